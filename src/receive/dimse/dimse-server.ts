/**
 * The DIMSE listener: a net.Server we own (bind address, connection cap, Nagle off, a deadline for the
 * A-ASSOCIATE-RQ, PDU framing guard) that hands each guarded socket to a StoreScp. dcmjs-dimse's own
 * Server is not used: it binds every interface and has no limits.
 */
import net from 'node:net';
import dns from 'node:dns';
import type { Logger } from '../../logging/logger';
import { ensureDimseLibraryLog } from '../../logging/dimse-library-log';
import type { InstanceStore } from '../../store/instance-store';
import type { SettingsRepository } from '../../store/settings-repository';
import type { Config } from '../../config/schema';
import { StoreScp } from './store-scp';
import { PduFrameChecker, guardSocket } from './pdu-guard';
import type { AssociationPolicyInput } from './association-policy';
import { storagePreference } from './transfer-syntax-negotiation';

/** dcmjs-dimse's PDU buffer limit (Implementation.MaxPduLength); we never advertise more. */
const LIBRARY_MAX_PDU = 262144;
/** Largest non-data PDU we read (an A-ASSOCIATE-RQ with ~100 presentation contexts is ~10 KB). */
const MAX_CONTROL_PDU = 64 * 1024;

export interface DimseServerOptions {
  config: Config['dimse'];
  store: InstanceStore;
  settings: SettingsRepository;
  logger: Logger;
}

export class DimseServer {
  private readonly server: net.Server;
  private readonly sockets = new Map<net.Socket, StoreScp | undefined>();
  private readonly log: Logger;
  private stopping = false;

  constructor(private readonly opts: DimseServerOptions) {
    this.log = opts.logger.child({ component: 'dimse' });
    ensureDimseLibraryLog();
    this.server = net.createServer({ noDelay: true }, (socket) => this.onConnection(socket));
    // Raw sockets beyond twice the association cap are refused by the kernel-side accept loop.
    this.server.maxConnections = opts.config.maxAssociations * 2;
    this.server.on('error', (err) => this.log.error('DIMSE server error', { error: String(err) }));
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.config.port, this.opts.config.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const port = (this.server.address() as net.AddressInfo).port;
    this.log.info('DIMSE listening', { host: this.opts.config.host, port });
    return port;
  }

  /** Open associations (accepted or being negotiated). */
  openAssociations(): number {
    let n = 0;
    for (const scp of this.sockets.values()) if (scp?.isAccepted) n += 1;
    return n;
  }

  private onConnection(socket: net.Socket): void {
    if (this.stopping) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const cfg = this.opts.config;
    const maxPdu = Math.min(cfg.maxPduLength, LIBRARY_MAX_PDU);
    const checker = new PduFrameChecker({ maxPDataLength: maxPdu, maxControlLength: MAX_CONTROL_PDU });
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const router: { intercept?: (pdu: Buffer) => boolean } = {};
    const deliverToLibrary = guardSocket(
      socket,
      checker,
      (v) => {
        this.log.warn('connection dropped: PDU framing violation', { remote, ...v });
        socket.destroy();
      },
      router,
    );
    socket.on('error', () => undefined);
    const requestTimer = setTimeout(() => {
      if (!checker.associationRequested) {
        this.log.warn('connection dropped: no association request in time', { remote });
        socket.destroy();
      }
    }, cfg.associationRequestTimeoutSeconds * 1000);
    requestTimer.unref();

    const scp = new StoreScp(socket, {
      connectTimeout: cfg.idleTimeoutSeconds * 1000,
      associationTimeout: cfg.associationRequestTimeoutSeconds * 1000,
      pduTimeout: cfg.idleTimeoutSeconds * 1000,
    });
    scp.attach(socket, {
      store: this.opts.store,
      logger: this.opts.logger.child({ component: 'dimse' }),
      maxPduLength: maxPdu,
      transferSyntaxes: storagePreference(cfg.transferSyntaxes),
      policy: () => this.policy(),
      openAssociations: () => this.openAssociations(),
      onAssociationAccepted: () => undefined,
      fastStorePath: cfg.fastStorePath,
      deliverToLibrary,
    });
    router.intercept = (pdu) => scp.interceptPdu(pdu);
    scp.on('networkError', () => socket.destroy());
    socket.on('close', () => {
      clearTimeout(requestTimer);
      this.sockets.delete(socket);
    });
    this.sockets.set(socket, scp);
  }

  private async policy(): Promise<AssociationPolicyInput> {
    const sources = this.opts.settings.sources.list();
    const resolvedHosts = new Map<string, string[]>();
    for (const s of sources) {
      if (s.host && net.isIP(s.host) === 0 && !resolvedHosts.has(s.host)) {
        try {
          resolvedHosts.set(s.host, (await dns.promises.lookup(s.host, { all: true })).map((r) => r.address));
        } catch {
          resolvedHosts.set(s.host, []);
        }
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
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const inFlight = [...this.sockets.values()].flatMap((s) => (s ? [...s.inFlight] : []));
    if (inFlight.length > 0) {
      await Promise.race([Promise.allSettled(inFlight), new Promise((r) => setTimeout(r, graceMs).unref())]);
    }
    const scps = [...this.sockets.values()];
    for (const socket of this.sockets.keys()) socket.destroy();
    this.sockets.clear();
    // Instances still arriving were never answered: remove their temp files before the process ends.
    await Promise.all(scps.map((s) => s?.discardPartial()));
    const late = scps.flatMap((s) => (s ? [...s.inFlight] : []));
    if (late.length > 0) await Promise.race([Promise.allSettled(late), new Promise((r) => setTimeout(r, graceMs).unref())]);
    await closed;
  }
}
