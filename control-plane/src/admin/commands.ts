import { randomUUID } from "node:crypto";
import type { MikroORM } from "@mikro-orm/postgresql";
import { hashPassword, hashSecret, newSecret } from "../platform/auth/secrets.ts";
import { ApiToken, type RoleName, roles, Tenant, User } from "../platform/db/entities.ts";
import { requireEmail, requireName, requirePassword } from "../platform/validation.ts";

/** Raised for bad input or a missing/duplicate tenant; the message says what to change. */
export class AdminCommandError extends Error {
  override name = "AdminCommandError";
}

/** Input of {@link AdminCommands.createTenant}. */
export interface CreateTenantInput {
  /** Lowercase letters, digits and dashes; used to log in. */
  slug: string;
  name?: string;
  storageQuotaBytes?: number;
  screenQuota?: number;
}

/** Input of {@link AdminCommands.createUser}. */
export interface CreateUserInput {
  tenant: string;
  email: string;
  password: string;
  role: RoleName;
  displayName?: string;
}

/** Input of {@link AdminCommands.createApiToken}. */
export interface CreateApiTokenInput {
  tenant: string;
  name: string;
  role: RoleName;
}

/** Input of {@link AdminCommands.setTenantQuota}: the quotas to change (at least one). */
export interface SetTenantQuotaInput {
  tenant: string;
  storageQuotaBytes?: number;
  screenQuota?: number;
}

/** Operator commands that work without a signed-in user: bootstrap a tenant, its first admin, a token. */
export interface AdminCommands {
  createTenant(input: CreateTenantInput): Promise<{ id: string; slug: string }>;
  /** Changes a tenant's quotas; returns them as stored now. */
  setTenantQuota(input: SetTenantQuotaInput): Promise<{ storageQuotaBytes: number; screenQuota: number }>;
  createUser(input: CreateUserInput): Promise<{ id: string; email: string }>;
  /** The secret is returned once and stored only as a hash. */
  createApiToken(input: CreateApiTokenInput): Promise<{ id: string; secret: string }>;
}

/** Defaults for new tenants. */
export interface TenantDefaults {
  storageBytes: number;
  screens: number;
}

/** Admin commands against a migrated database. */
export function createAdminCommands(orm: MikroORM, defaults: TenantDefaults): AdminCommands {
  async function tenantBySlug(slug: string): Promise<Tenant> {
    const tenant = await orm.em.fork().findOne(Tenant, { slug });
    if (!tenant) throw new AdminCommandError(`no tenant with slug "${slug}"; create it first with create-tenant`);
    return tenant;
  }
  function requireRole(role: string): RoleName {
    if (!(roles as readonly string[]).includes(role)) {
      throw new AdminCommandError(`role must be one of ${roles.join(", ")}, got "${role}"`);
    }
    return role as RoleName;
  }
  function check<T>(work: () => T): T {
    try {
      return work();
    } catch (error) {
      throw new AdminCommandError((error as Error).message);
    }
  }

  return {
    async createTenant(input) {
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(input.slug)) {
        throw new AdminCommandError(`tenant slug "${input.slug}" must be 1-63 lowercase letters, digits or dashes`);
      }
      const name = check(() => requireName(input.name ?? input.slug, "name"));
      const em = orm.em.fork();
      if (await em.findOne(Tenant, { slug: input.slug })) {
        throw new AdminCommandError(`tenant "${input.slug}" already exists`);
      }
      const tenant = em.create(Tenant, {
        id: randomUUID(),
        slug: input.slug,
        name,
        storageQuotaBytes: input.storageQuotaBytes ?? defaults.storageBytes,
        screenQuota: input.screenQuota ?? defaults.screens,
      });
      await em.flush();
      return { id: tenant.id, slug: tenant.slug };
    },

    async setTenantQuota(input) {
      if (input.storageQuotaBytes === undefined && input.screenQuota === undefined) {
        throw new AdminCommandError("give --storage-quota-bytes, --screen-quota or both");
      }
      const em = orm.em.fork();
      const tenant = await em.findOne(Tenant, { slug: input.tenant });
      if (!tenant)
        throw new AdminCommandError(`no tenant with slug "${input.tenant}"; create it first with create-tenant`);
      if (input.storageQuotaBytes !== undefined) tenant.storageQuotaBytes = input.storageQuotaBytes;
      if (input.screenQuota !== undefined) tenant.screenQuota = input.screenQuota;
      await em.flush();
      return { storageQuotaBytes: tenant.storageQuotaBytes, screenQuota: tenant.screenQuota };
    },

    async createUser(input) {
      const tenant = await tenantBySlug(input.tenant);
      const email = check(() => requireEmail(input.email));
      check(() => requirePassword(input.password));
      const role = requireRole(input.role);
      const em = orm.em.fork();
      if (await em.findOne(User, { tenant: tenant.id, email })) {
        throw new AdminCommandError(`user ${email} already exists in tenant "${input.tenant}"`);
      }
      const user = em.create(User, {
        id: randomUUID(),
        tenant: tenant.id,
        email,
        displayName: check(() => requireName(input.displayName ?? email, "display name")),
        role,
        passwordHash: await hashPassword(input.password),
        disabled: false,
      });
      await em.flush();
      return { id: user.id, email };
    },

    async createApiToken(input) {
      const tenant = await tenantBySlug(input.tenant);
      const role = requireRole(input.role);
      const name = check(() => requireName(input.name, "token name"));
      const secret = newSecret("avt");
      const em = orm.em.fork();
      const token = em.create(ApiToken, {
        id: randomUUID(),
        tenant: tenant.id,
        name,
        role,
        tokenHash: hashSecret(secret),
        createdBy: "cli",
      });
      await em.flush();
      return { id: token.id, secret };
    },
  };
}
