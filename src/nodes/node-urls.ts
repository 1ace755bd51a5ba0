import { invalid } from '../common/domain-error.js';
import { OutboundError, resolveAllowedAddress } from '../platform/net/outbound-http.js';

/** How long registration waits for a node URL's host to resolve before accepting it unchecked (the worker checks again on every call). */
const RESOLVE_TIMEOUT_MS = 2_000;

/**
 * Refuses node URLs whose host is, or resolves to, an address the worker would refuse to call
 * (loopback, private, link-local, metadata...; platform/net/address-policy.ts), naming the field.
 * A host that does not resolve yet is accepted: the worker resolves and checks again before
 * every call, so a name pointed at a private address later is still never called.
 */
export async function checkNodeUrls(urls: Partial<Record<'baseUrl' | 'metricsUrl', string>>, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  for (const [field, url] of Object.entries(urls)) {
    if (url === undefined) continue;
    const timeout = new Promise<void>((resolve) => setTimeout(resolve, RESOLVE_TIMEOUT_MS).unref());
    try {
      await Promise.race([resolveAllowedAddress(new URL(url).hostname, false), timeout]);
    } catch (error) {
      if (error instanceof OutboundError && error.failure === 'address_refused') {
        throw invalid('NODE_URL_NOT_ALLOWED', `${field}: ${error.message}`, { fields: [field] });
      }
    }
  }
}
