/** The part of @cycjimmy/jsmpeg-player (JSMpeg, MIT) the live player uses; the package ships no types. */
declare module '@cycjimmy/jsmpeg-player' {
  interface Player {
    destroy(): void;
  }
  const JSMpeg: {
    Player: new (url: string, options: Record<string, unknown>) => Player;
  };
  export default JSMpeg;
}
