import type { IncomingMessage } from 'node:http';
import { type OnGatewayConnection, WebSocketGateway } from '@nestjs/websockets';
import type { WebSocket } from 'ws';
import { StreamHub } from './stream-hub.js';

/** Largest client message: a subscribe is under 200 bytes. */
const MAX_MESSAGE_BYTES = 16 * 1024;

/**
 * `WS /v1/stream` on the API's own HTTP server (WsAdapter, see src/app/http-app.ts). Only wires
 * sockets to the hub: the protocol is ours (`{"op": ...}`), not Nest's `{event, data}` messages.
 */
@WebSocketGateway({ path: '/v1/stream', maxPayload: MAX_MESSAGE_BYTES })
export class StreamGateway implements OnGatewayConnection {
  constructor(private readonly hub: StreamHub) {}

  handleConnection(socket: WebSocket, request: IncomingMessage): void {
    const session = this.hub.connect(socket, request.headers.authorization);
    socket.on('message', (data, isBinary) => this.hub.receive(session, isBinary ? undefined : data.toString()));
    socket.on('close', () => this.hub.disconnect(session));
  }
}
