/** What the master needs from MQTT: the embedded broker, or a client of an external broker. */
export type MessageHandler = (topic: string, payload: Buffer) => void;

export interface MessageBus {
  start(): Promise<void>;
  subscribe(filter: string, handler: MessageHandler): Promise<void>;
  /**
   * Work only one master may do (storing events): with an external broker each message goes to
   * one master of the group (MQTT v5 shared subscription); the embedded broker has one master.
   */
  subscribeShared(filter: string, handler: MessageHandler): Promise<void>;
  publish(topic: string, payload: Buffer | string, opts: { qos: 0 | 1; retain?: boolean }): Promise<void>;
  stop(): Promise<void>;
}
