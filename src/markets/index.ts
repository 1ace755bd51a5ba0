// What other modules use of markets: the service, the instrument vocabulary, the pure price math and the tokenizers.
export { MarketsModule } from './markets.module.js';
export { INSTRUMENT_CHANNEL, MarketsService, type ModelClassSpec } from './markets.service.js';
export {
  deliveryDays,
  defaultLastTradeAt,
  type ForwardTerms,
  INSTRUMENT_DEFAULTS,
  type InstrumentKind,
  type InstrumentSpec,
  type InstrumentStatus,
  type SpotTerms,
  tradingState,
} from './instrument-terms.js';
export * from './price.js';
export { SUPPORTED_TOKENIZERS, SUPPORTED_TOKENIZERS_DESCRIPTION, tokenizerFor, type Tokenizer } from './tokenizers.js';
