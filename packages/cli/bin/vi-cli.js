#!/usr/bin/env node
// A committed launcher for the compiled CLI: npm links bin entries at install time, before the
// first build, so the link must point at a file that exists in a fresh clone.
import "../dist/bin.js";
