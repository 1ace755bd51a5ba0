export * from '../../src/demo/stub-model-server.js';
