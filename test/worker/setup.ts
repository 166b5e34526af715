import { applyD1Migrations, env } from "cloudflare:test";

// Applying is idempotent (wrangler's d1_migrations table), so every test file may run it.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
