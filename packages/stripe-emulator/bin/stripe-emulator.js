#!/usr/bin/env node
// Launcher: the emulator ships as TypeScript; tsx (a root devDependency) compiles it on load.
import { register } from "tsx/esm/api";

register();
await import(new URL("../src/cli.ts", import.meta.url).href);
