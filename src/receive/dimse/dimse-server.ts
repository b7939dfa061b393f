/**
 * The DIMSE listener: a net.Server we own (bind address, Nagle off, PDU framing guard) that hands each
 * guarded socket to a StoreScp. dcmjs-dimse's own Server is not used: it binds every interface and has no
 * limits, and its association/idle timers never fire on sockets it did not connect itself.
 *
 * Availability under hostile connections (ConnectionTable): a cap on connections in total and per peer
 * address, where unassociated connections give way to new ones (oldest first); an ARTIM-style deadline from
 * accept until the association request has arrived whole and been answered; an idle limit that only whole
 * PDUs reset. Bounded memory (MessageGuard): data sets other than C-STORE ones are capped, a command that
 * may carry none but announces one is aborted before its data is read, and so is a peer that does not read
 * our responses.
 *
 * DICOM TLS (PS3.15 B.9, BCP 195): with `config.tls` a second listener accepts TLS. Its raw sockets go
 * through the same table (limits and the ARTIM deadline count from TCP accept, so the handshake is inside
 * the deadline), are wrapped in a tls.TLSSocket, and once the handshake is done get the same framing guard,
 * association policy and fast store path as plain ones. The plain listener stays unless `port` is 0 then.
 */
import net from 'node:net';
import dns from 'node:dns';
import tls from 'node:tls';
import { bcp195Options, readPem } from '../../dicom/tls-profile';
import { HostResolver } from './host-resolver';
import type { Logger } from '../../logging/logger';
import { ensureDimseLibraryLog } from '../../logging/dimse-library-log';
import type { InstanceStore } from '../../store/instance-store';
import type { SettingsRepository } from '../../store/settings-repository';
import type { Config } from '../../config/schema';
import { StoreScp, type AssociationDecidedEvent } from './store-scp';
import { PduFrameChecker, guardSocket } from './pdu-guard';
import { normalizeAddress, type AssociationPolicyInput } from './association-policy';
import { storagePreference } from './transfer-syntax-negotiation';
import { ConnectionTable } from './connection-table';
import { MessageGuard, type MessageViolation } from './message-guard';
import { AbortReason, encodeAbort, type PduBytes } from './p-data';

/** dcmjs-dimse's PDU buffer limit (Implementation.MaxPduLength); we never advertise more. */
const LIBRARY_MAX_PDU = 262144;
/** Largest non-data PDU we read (an A-ASSOCIATE-RQ with ~100 presentation contexts is ~10 KB). */
const MAX_CONTROL_PDU = 64 * 1024;
/** How often deadlines are checked (one timer for all connections). */
const SWEEP_MS = 250;

export interface DimseServerOptions {
  config: Config['dimse'];
  store: InstanceStore;
  settings: SettingsRepository;
  logger: Logger;
  /** Told of each association accepted or refused (e.g. the audit trail). */
  onAssociationDecided?: (ev: AssociationDecidedEvent) => void;
}

export class DimseServer {
  /** The plain listener; absent when TLS is configured and `port` is 0. */
  private readonly server: net.Server | undefined;
  private readonly tlsServer: net.Server | undefined;
  /** Does the TLS handshakes of the TLS listener's connections (it never listens itself). */
  private readonly tlsEngine: tls.Server | undefined;
  /** TLS listener connections in their handshake, by remote address:port. */
  private readonly handshaking = new Map<string, net.Socket>();
  private readonly sockets = new Map<net.Socket, StoreScp | undefined>();
  private readonly table: ConnectionTable<net.Socket>;
  private readonly log: Logger;
  private stopping = false;
  /** Connections we sent A-ABORT on: what they send is read and dropped until they close. */
  private readonly aborting = new WeakSet<net.Socket>();
  private sweepTimer: NodeJS.Timeout | undefined;
  /** Connections closed since the last sweep's log line, by why (logged once per sweep, not per socket). */
  private closedCounts = new Map<string, { n: number; addresses: Set<string> }>();

  constructor(private readonly opts: DimseServerOptions) {
    this.log = opts.logger.child({ component: 'dimse' });
    ensureDimseLibraryLog();
    const cfg = opts.config;
    this.table = new ConnectionTable({
      maxConnections: cfg.maxConnections,
      maxConnectionsPerAddress: cfg.maxConnectionsPerAddress,
      associationRequestTimeoutMs: cfg.associationRequestTimeoutSeconds * 1000,
      idleTimeoutMs: cfg.idleTimeoutSeconds * 1000,
    });
    // No server.maxConnections: at the cap Node refuses the newest socket, which is how 64 silent
    // connections locked out every modality. The table decides instead.
    const plain = !(cfg.tls && cfg.port === 0);
    if (plain) {
      this.server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket));
      this.server.on('error', (err) => this.log.error('DIMSE server error', { error: String(err) }));
    }
    if (cfg.tls) {
      const t = cfg.tls;
      // Read the PEM files now: a missing or bad file stops startup with its name.
      this.tlsEngine = tls.createServer(
        {
          ...bcp195Options(),
          cert: readPem(t.certFile, 'dimse.tls.certFile'),
          key: readPem(t.keyFile, 'dimse.tls.keyFile'),
          ...(t.caFile ? { ca: readPem(t.caFile, 'dimse.tls.caFile') } : {}),
          requestCert: t.requireClientCertificate || t.caFile !== undefined,
          rejectUnauthorized: t.requireClientCertificate,
        },
        (secure) => this.onSecureConnection(secure),
      );
      this.tlsEngine.on('tlsClientError', (err, secure) => {
        const raw = this.handshaking.get(`${secure.remoteAddress}:${secure.remotePort}`);
        this.countClosed(`TLS handshake failed: ${tlsReason(err)}`, normalizeAddress(secure.remoteAddress) ?? 'unknown');
        if (raw) this.closeNow(raw);
        secure.destroy();
      });
      this.tlsServer = net.createServer({ noDelay: true }, (socket) => this.onTlsConnection(socket));
      this.tlsServer.on('error', (err) => this.log.error('DIMSE TLS server error', { error: String(err) }));
    }
  }

  /** Port of the plain listener once listening (0 when there is none). */
  port = 0;
  /** Port of the TLS listener once listening (0 when there is none). */
  tlsPort = 0;

  /** Starts the listeners; returns the plain listener's port (0 when there is none; see `tlsPort`). */
  async listen(): Promise<number> {
    const listenOn = (server: net.Server, port: number) =>
      new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, this.opts.config.host, () => {
          server.off('error', reject);
          resolve((server.address() as net.AddressInfo).port);
        });
      });
    if (this.server) {
      this.port = await listenOn(this.server, this.opts.config.port);
      this.log.info('DIMSE listening', { host: this.opts.config.host, port: this.port });
    }
    if (this.tlsServer) {
      try {
        this.tlsPort = await listenOn(this.tlsServer, this.opts.config.tls!.port);
      } catch (e) {
        this.server?.close();
        throw new Error(`DIMSE TLS listener could not start on port ${this.opts.config.tls!.port}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
      }
      this.log.info('DIMSE TLS listening', { host: this.opts.config.host, port: this.tlsPort, requireClientCertificate: this.opts.config.tls!.requireClientCertificate });
    }
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
    return this.port;
  }

  /** Connections held now (associated or not). */
  openConnections(): number {
    return this.table.size;
  }

  /** Open associations (accepted or being negotiated). */
  openAssociations(): number {
    let n = 0;
    for (const scp of this.sockets.values()) if (scp?.isAccepted) n += 1;
    return n;
  }

  /** Admits a new TCP connection into the table (limits, eviction); false when it was refused. */
  private admit(socket: net.Socket, handle: net.Socket): string | undefined {
    socket.on('error', () => undefined);
    if (this.stopping) {
      socket.destroy();
      return undefined;
    }
    const address = normalizeAddress(socket.remoteAddress) ?? 'unknown';
    const admission = this.table.admit(address);
    if (!admission.admit) {
      this.countClosed('refused: connection limit', address);
      socket.destroy();
      return undefined;
    }
    for (const victim of admission.evict) {
      this.countClosed('unassociated, gave way to a new connection', victim.address);
      this.closeNow(victim.handle);
    }
    this.table.add(handle, address, Date.now());
    socket.setNoDelay(true);
    return address;
  }

  private onConnection(socket: net.Socket): void {
    if (this.admit(socket, socket) === undefined) return;
    this.attach(socket);
  }

  /**
   * A TCP connection on the TLS listener: admitted like a plain one (the table holds the raw socket until
   * the handshake is done, so the ARTIM deadline covers it), then handed to the tls.Server, which does the
   * handshake and the certificate checks (requestCert, rejectUnauthorized) and emits 'secureConnection'.
   */
  private onTlsConnection(raw: net.Socket): void {
    const address = this.admit(raw, raw);
    if (address === undefined) return;
    const k = `${raw.remoteAddress}:${raw.remotePort}`;
    this.handshaking.set(k, raw);
    raw.once('close', () => {
      this.table.remove(raw);
      if (this.handshaking.get(k) === raw) this.handshaking.delete(k);
    });
    this.tlsEngine!.emit('connection', raw);
  }

  /** The handshake is done: the TLS socket takes the raw one's place in the table and gets the DICOM handling. */
  private onSecureConnection(secure: tls.TLSSocket): void {
    secure.on('error', () => undefined);
    const k = `${secure.remoteAddress}:${secure.remotePort}`;
    const raw = this.handshaking.get(k);
    this.handshaking.delete(k);
    const tracked = raw && this.table.get(raw);
    if (!raw || !tracked || this.stopping) {
      secure.destroy();
      return;
    }
    // A certificate offered but not signed by caFile is refused even when certificates are optional.
    if (!secure.authorized && Object.keys(secure.getPeerCertificate() ?? {}).length > 0) {
      this.countClosed(`TLS client certificate not trusted: ${String(secure.authorizationError)}`, tracked.address);
      this.closeNow(raw);
      return;
    }
    this.table.remove(raw);
    this.table.add(secure, tracked.address, tracked.openedAt);
    this.attach(secure);
  }

  /** Hands an admitted connection (plain, or TLS after its handshake) to a StoreScp behind the guards. */
  private attach(socket: net.Socket): void {
    const cfg = this.opts.config;
    const maxPdu = Math.min(cfg.maxPduLength, LIBRARY_MAX_PDU);
    const checker = new PduFrameChecker({ maxPDataLength: maxPdu, maxControlLength: MAX_CONTROL_PDU });
    const messages = new MessageGuard({ maxBufferedBytes: cfg.maxBufferedBytesPerAssociation });
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const router: { intercept?: (pdu: PduBytes) => boolean } = {};
    const deliverToLibrary = guardSocket(
      socket,
      checker,
      (v) => {
        this.log.warn('connection dropped: PDU framing violation', { remote, ...v });
        this.closeNow(socket);
      },
      router,
    );

    const scp = new StoreScp(socket, {
      connectTimeout: cfg.idleTimeoutSeconds * 1000,
      associationTimeout: cfg.associationRequestTimeoutSeconds * 1000,
      pduTimeout: cfg.idleTimeoutSeconds * 1000,
    });
    // The library arms socket.setTimeout, which any single byte resets: our sweep keeps the deadlines.
    socket.setTimeout(0);
    scp.attach(socket, {
      store: this.opts.store,
      logger: this.opts.logger.child({ component: 'dimse' }),
      maxPduLength: maxPdu,
      transferSyntaxes: storagePreference(cfg.transferSyntaxes),
      policy: () => this.policy(),
      openAssociations: () => this.openAssociations(),
      onAssociationAccepted: () => this.table.setPhase(socket, 'associated'),
      onAssociationDecided: this.opts.onAssociationDecided,
      fastStorePath: cfg.fastStorePath,
      deliverToLibrary,
      limits: { maxInstanceBytes: cfg.maxInstanceBytes, freeSpaceCheckBytes: cfg.freeSpaceCheckEveryMb * 1024 * 1024 },
    });
    router.intercept = (pdu) => {
      if (this.aborting.has(socket)) return true;
      this.table.pduReceived(socket, Date.now());
      if (checker.associationRequestComplete) this.table.setPhase(socket, 'requested');
      let v: MessageViolation | { kind: 'responses-not-read'; bytes: number } | undefined = messages.push(pdu, scp.isAccepted);
      if (!v && socket.writableLength > cfg.maxBufferedBytesPerAssociation) v = { kind: 'responses-not-read', bytes: socket.writableLength };
      if (v) {
        this.log.warn('association aborted: peer exceeded a protocol or memory limit', { remote, ...v });
        this.abortNow(socket, v.kind === 'message-too-large' || v.kind === 'responses-not-read' ? AbortReason.NotSpecified : AbortReason.UnexpectedPduParameter);
        return true;
      }
      return scp.interceptPdu(pdu);
    };
    scp.on('networkError', () => socket.destroy());
    socket.on('close', () => {
      this.table.remove(socket);
      this.sockets.delete(socket);
    });
    this.sockets.set(socket, scp);
  }

  /** Closes a connection at once and frees its slot (the socket's 'close' comes later). */
  private closeNow(socket: net.Socket): void {
    this.table.remove(socket);
    socket.destroy();
  }

  /**
   * Sends A-ABORT (service provider) followed by FIN, and drops whatever the peer still sends until it
   * closes (at most 1 s): closing with unread bytes would reset the connection and could lose the A-ABORT.
   */
  private abortNow(socket: net.Socket, reason: number): void {
    this.table.remove(socket);
    this.aborting.add(socket);
    if (socket.destroyed) return;
    const t = setTimeout(() => socket.destroy(), 1000);
    t.unref();
    socket.once('close', () => clearTimeout(t));
    try {
      socket.end(encodeAbort(2, reason));
    } catch {
      socket.destroy();
    }
  }

  /** Applies the association request deadline and the idle limit. */
  private sweep(): void {
    const now = Date.now();
    const busy = (s: net.Socket) => (this.sockets.get(s)?.inFlight.size ?? 0) > 0;
    for (const { connection, why } of this.table.expired(now, busy)) {
      if (why === 'association-request-timeout') {
        this.countClosed(`association not requested and accepted within ${this.opts.config.associationRequestTimeoutSeconds} s`, connection.address);
        this.closeNow(connection.handle);
      } else {
        this.countClosed(`no PDU for ${this.opts.config.idleTimeoutSeconds} s`, connection.address);
        this.abortNow(connection.handle, AbortReason.NotSpecified);
      }
    }
    for (const [why, c] of this.closedCounts) {
      this.log.warn('connections closed', { why, count: c.n, addresses: [...c.addresses].slice(0, 10) });
    }
    this.closedCounts.clear();
  }

  private countClosed(why: string, address: string): void {
    const c = this.closedCounts.get(why) ?? { n: 0, addresses: new Set<string>() };
    c.n += 1;
    c.addresses.add(address);
    this.closedCounts.set(why, c);
  }

  /** Source host names, resolved with a deadline (not on every association request). */
  readonly hosts = new HostResolver();

  private async policy(): Promise<AssociationPolicyInput> {
    const sources = this.opts.settings.sources.list();
    const resolvedHosts = new Map<string, string[]>();
    for (const s of sources) {
      if (s.host && net.isIP(s.host) === 0 && !resolvedHosts.has(s.host)) {
        resolvedHosts.set(s.host, await this.hosts.resolve(s.host));
      }
    }
    return {
      localAeTitles: this.opts.settings.aeTitles.list().map((a) => a.aeTitle),
      sources,
      allowUnknownSources: this.opts.config.allowUnknownSources,
      maxAssociations: this.opts.config.maxAssociations,
      resolvedHosts,
    };
  }

  /**
   * Stops accepting connections, lets in-flight stores finish (up to `graceMs`), then closes every socket.
   * Nothing acknowledged is lost: a store answered Success is already durable and indexed.
   */
  async stop(graceMs = 10000): Promise<void> {
    this.stopping = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const closeServer = (s: net.Server | undefined) => new Promise<void>((resolve) => (s && s.listening ? s.close(() => resolve()) : resolve()));
    const closed = Promise.all([closeServer(this.server), closeServer(this.tlsServer)]);
    const inFlight = [...this.sockets.values()].flatMap((s) => (s ? [...s.inFlight] : []));
    if (inFlight.length > 0) {
      await Promise.race([Promise.allSettled(inFlight), new Promise((r) => setTimeout(r, graceMs).unref())]);
    }
    const scps = [...this.sockets.values()];
    for (const socket of this.sockets.keys()) socket.destroy();
    for (const socket of this.table.handles()) socket.destroy();
    this.sockets.clear();
    // Instances still arriving were never answered: remove their temp files before the process ends.
    await Promise.all(scps.map((s) => s?.discardPartial()));
    const late = scps.flatMap((s) => (s ? [...s.inFlight] : []));
    if (late.length > 0) await Promise.race([Promise.allSettled(late), new Promise((r) => setTimeout(r, graceMs).unref())]);
    await closed;
  }
}

/** The OpenSSL reason of a handshake failure ("peer did not return a certificate"), without its codes. */
function tlsReason(err: Error): string {
  const m = /:([^:]+):[^:]*\.c:\d+/.exec(err.message);
  return (m?.[1] ?? err.message).slice(0, 120);
}
