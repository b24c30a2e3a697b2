// The JavaScript side of a one-shot sandbox worker. The launcher copies this file into the
// sandbox's read-only root (/sandbox/worker.js) and execs Node on it, already inside the
// namespaces, as the unprivileged user, under the resource limits and seccomp filter, with
// Node's permission model on (no child processes, workers, addons or reads outside /tmp).
//
// Protocol (same as the Python worker in launcher.py): write "ready\n" on fd 3; read one job
// from fd 0 (a 15-digit length, "\n", then that many bytes of JSON {code, inputs}); run
// main(inputs) (awaiting a promise); write one line on fd 3, "result <json>" or
// "error <json {kind, message, line}>"; exit.
"use strict";

const fs = require("fs");
const vm = require("vm");
const { createRequire } = require("module");

const RESULT_FD = 3;
const MAX_OUTPUT = Number(process.argv[2] || 1048576);

function readExactly(size) {
  const buffer = Buffer.alloc(size);
  let offset = 0;
  while (offset < size) {
    let count;
    try {
      count = fs.readSync(0, buffer, offset, size - offset, null);
    } catch (error) {
      if (error.code === "EAGAIN") continue;
      throw error;
    }
    if (count === 0) return null; // the pool went away: nothing to run
    offset += count;
  }
  return buffer;
}

let answered = false;

function send(line) {
  answered = true;
  const data = Buffer.from(line + "\n", "utf8");
  let offset = 0;
  while (offset < data.length) offset += fs.writeSync(RESULT_FD, data, offset);
}

function lineOf(error) {
  const stack = (error && typeof error.stack === "string" && error.stack) || "";
  const match = /main\.js:(\d+)/.exec(stack);
  return match ? Number(match[1]) : null;
}

function fail(error, kind) {
  let message;
  if (error instanceof Error) message = `${error.name}: ${error.message}`;
  else message = `Uncaught ${typeof error === "string" ? error : JSON.stringify(error)}`;
  if (!kind && error instanceof RangeError && /allocation failed|out of memory/i.test(message)) {
    kind = "memory";
  }
  send("error " + JSON.stringify({ kind: kind || "code", message, line: lineOf(error) }));
  process.exit(1);
}

async function run(job) {
  process.chdir("/tmp");
  const wrapper =
    "(function (exports, require, module, __filename, __dirname) {" +
    job.code +
    "\n;return typeof main === 'undefined' ? undefined : main;\n})";
  const script = new vm.Script(wrapper, { filename: "main.js" });
  const module = { exports: {} };
  const factory = script.runInThisContext();
  const main = factory(module.exports, createRequire("/tmp/main.js"), module, "/tmp/main.js", "/tmp");
  if (typeof main !== "function") throw new ReferenceError("main is not defined");
  let output = main(job.inputs);
  if (output && typeof output.then === "function") {
    awaiting = true;
    output = await output;
  }
  const text = JSON.stringify(output === undefined ? null : output);
  if (Buffer.byteLength(text, "utf8") > MAX_OUTPUT) {
    send("error " + JSON.stringify({ kind: "output", message: "result too large", line: null }));
    process.exit(1);
  }
  send("result " + text);
  process.exit(0);
}

let awaiting = false; // main() returned a promise and we wait for it

process.on("exit", (code) => {
  if (!answered) {
    const message = awaiting
      ? "main() returned a promise that never settled"
      : `the code called process.exit(${code}) before main() returned`;
    send("error " + JSON.stringify({ kind: "code", message, line: null }));
  }
});
process.on("uncaughtException", (error) => fail(error));
process.on("unhandledRejection", (error) => fail(error));

send("ready");
answered = false;
const header = readExactly(16);
if (header === null) process.exit(0);
const body = readExactly(Number(header.toString("ascii").trim()));
if (body === null) process.exit(0);
run(JSON.parse(body.toString("utf8"))).catch((error) => fail(error));
