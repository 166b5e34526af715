#!/usr/bin/env node
// Launcher: the emulator ships as TypeScript; tsx (one of its dependencies) compiles it on load.
import { register } from "tsx/esm/api";

register();
await import(new URL("../src/cli.ts", import.meta.url).href);
