/** Something that can deliver what it owes its client and close: one WebSocket session. */
export interface ClosableSession {
  /** Resolves to whether the client completed the close handshake in time (else the socket is cut). */
  close(graceMs: number): Promise<boolean>;
}

/** The sockets open now, so that shutting down can deliver what they still owe and close them. */
export class StreamSessions {
  private readonly sessions = new Set<ClosableSession>();

  add(session: ClosableSession): void {
    this.sessions.add(session);
  }

  delete(session: ClosableSession): void {
    this.sessions.delete(session);
  }

  /**
   * Delivers what every socket is owed and closes it as "going away". A client that has not
   * completed the close handshake within `graceMs` (one that stopped reading, say) is cut.
   * Resolves to the number of sockets cut.
   */
  async closeAll(graceMs: number): Promise<number> {
    const closedInTime = await Promise.all([...this.sessions].map((session) => session.close(graceMs)));
    return closedInTime.filter((inTime) => !inTime).length;
  }
}
