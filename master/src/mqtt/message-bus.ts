/** What the master needs from MQTT: the embedded broker now, an external broker's client later. */
export type MessageHandler = (topic: string, payload: Buffer) => void;

export interface MessageBus {
  start(): Promise<void>;
  subscribe(filter: string, handler: MessageHandler): Promise<void>;
  publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain?: boolean }): Promise<void>;
  stop(): Promise<void>;
}
