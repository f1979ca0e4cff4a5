/**
 * Channel settings between the API and the store: the view the API shows (no secret, ever, only
 * whether one is saved) and the settings an edit leaves (a write-only field left out keeps the
 * saved value). The channels API and its repository use these; the shapes are in
 * protocol/src/notifications.ts.
 */
import type {
  EmailChannelSettings,
  EmailChannelView,
  MqttChannelSettings,
  MqttChannelView,
  WebhookChannelSettings,
  WebhookChannelView,
} from '@cctv/protocol';

export function webhookView(s: WebhookChannelSettings): WebhookChannelView {
  return { url: s.url, headerNames: Object.keys(s.headers ?? {}), hasSecret: Boolean(s.secret) };
}

export function emailView(s: EmailChannelSettings): EmailChannelView {
  return {
    host: s.host,
    port: s.port,
    security: s.security,
    username: s.username ?? null,
    from: s.from,
    to: [...s.to],
    hasSecret: Boolean(s.password),
  };
}

export function mqttView(s: MqttChannelSettings): MqttChannelView {
  return {
    url: s.url,
    username: s.username ?? null,
    topicPrefix: s.topicPrefix ?? 'cctv',
    discoveryPrefix: s.discoveryPrefix ?? 'homeassistant',
    homeAssistant: s.homeAssistant,
    hasSecret: Boolean(s.password),
  };
}

/** An edited webhook channel: secret and headers left out keep the saved ones. */
export function editedWebhook(saved: WebhookChannelSettings | null, input: WebhookChannelSettings) {
  const secret = input.secret ?? saved?.secret;
  const headers = input.headers ?? saved?.headers;
  return { url: input.url, ...(secret ? { secret } : {}), ...(headers ? { headers } : {}) };
}

/**
 * An edited e-mail or MQTT channel: a password left out keeps the saved one, an empty one
 * removes it (a server that no longer wants a login); no username, no password.
 */
export function editedWithPassword<S extends EmailChannelSettings | MqttChannelSettings>(
  saved: S | null,
  input: S,
): S {
  const { password: given, ...rest } = input;
  const password = given === undefined ? saved?.password : given;
  return (input.username && password ? { ...rest, password } : rest) as S;
}
