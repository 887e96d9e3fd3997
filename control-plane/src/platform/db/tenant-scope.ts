import type { HandlerContext } from "@connectrpc/connect";
import type {
  EntityClass,
  EntityManager,
  FilterQuery,
  FindOneOptions,
  FindOptions,
  MikroORM,
  RequiredEntityData,
} from "@mikro-orm/postgresql";
import { type Principal, principalOf } from "../auth/principal.ts";

/** An entity that belongs to a tenant. */
export interface TenantOwned {
  tenant: { id: string };
}

/**
 * The only door to tenant-owned rows inside an RPC: built from the authenticated caller, it adds
 * `tenant = <caller's tenant>` to every query and every insert, so a handler cannot forget it and
 * an id from another tenant simply is not found. Holds its own EntityManager fork (one per RPC).
 */
export class TenantScope {
  readonly em: EntityManager;
  readonly tenantId: string;

  constructor(em: EntityManager, tenantId: string) {
    this.em = em;
    this.tenantId = tenantId;
  }

  /** Rows of this tenant matching `where`. */
  find<T extends TenantOwned>(entity: EntityClass<T>, where: FilterQuery<T>, options?: FindOptions<T>): Promise<T[]> {
    return this.em.find(entity, this.scoped(where) as never, options as FindOptions<T, never>) as Promise<T[]>;
  }

  /** One row of this tenant, or null. */
  findOne<T extends TenantOwned>(
    entity: EntityClass<T>,
    where: FilterQuery<T>,
    options?: FindOneOptions<T>,
  ): Promise<T | null> {
    return this.em.findOne(
      entity,
      this.scoped(where) as never,
      options as FindOneOptions<T, never>,
    ) as Promise<T | null>;
  }

  /** Counts rows of this tenant matching `where`. */
  count<T extends TenantOwned>(entity: EntityClass<T>, where: FilterQuery<T>): Promise<number> {
    return this.em.count(entity, this.scoped(where));
  }

  /** Creates (and persists on flush) a row owned by this tenant. */
  create<T extends TenantOwned>(entity: EntityClass<T>, data: Omit<RequiredEntityData<T>, "tenant">): T {
    return this.em.create(entity, { ...data, tenant: this.tenantId } as unknown as RequiredEntityData<T>);
  }

  /** A scope on a transactional fork, for work that must commit together. */
  transactional<R>(work: (scope: TenantScope) => Promise<R>): Promise<R> {
    return this.em.transactional((em) => work(new TenantScope(em, this.tenantId)));
  }

  private scoped<T extends TenantOwned>(where: FilterQuery<T>): FilterQuery<T> {
    return { $and: [where, { tenant: this.tenantId }] } as unknown as FilterQuery<T>;
  }
}

/** Makes the per-RPC scope: a fresh EntityManager fork bound to the caller's tenant. */
export type ScopeFactory = (context: HandlerContext) => TenantScope;

/**
 * The scope of one operation by `principal`: a fresh EntityManager fork bound to its tenant. RPCs
 * get it through {@link createScopeFactory}, plain HTTP routes through `HttpAccess.run`.
 */
export function scopeOf(orm: MikroORM, principal: Pick<Principal, "tenantId">): TenantScope {
  return new TenantScope(orm.em.fork(), principal.tenantId);
}

/** The {@link ScopeFactory} over one ORM. */
export function createScopeFactory(orm: MikroORM): ScopeFactory {
  return (context) => scopeOf(orm, principalOf(context));
}
