import assert from "node:assert/strict";
import type { Job } from "../../lib/job.ts";
import { ID_PATTERN } from "../../lib/job_fields.ts";
import { cliJson, runCli, storeTest } from "../_helpers.ts";
import { assertOk, ISO_TIME, JOB_FIELDS } from "./_cli.ts";

storeTest("enqueue of a JSON job prints its id alone and stores the job", async (tmp) => {
  const out = assertOk(
    await runCli(["enqueue", '{"id":"job1","command":"echo hello"}'], { db: tmp.db }),
  );
  assert.equal(out, "job1\n");
  const job = await cliJson<Job>(["show", "job1"], { db: tmp.db });
  assert.equal(job.command, "echo hello");
  assert.equal(job.state, "pending");
});

storeTest("enqueue takes the seed's example with quotes inside the command", async (tmp) => {
  const out = assertOk(
    await runCli(["enqueue", '{"id":"fail1","command":"bash -c \\"exit 1\\""}'], { db: tmp.db }),
  );
  assert.equal(out, "fail1\n");
  const job = await cliJson<Job>(["show", "fail1"], { db: tmp.db });
  assert.equal(job.command, 'bash -c "exit 1"');
});

storeTest("enqueue generates an id when none is given", async (tmp) => {
  const first = assertOk(await runCli(["enqueue", '{"command":"true"}'], { db: tmp.db })).trim();
  const second = assertOk(await runCli(["enqueue", '{"command":"true"}'], { db: tmp.db })).trim();
  assert.match(first, ID_PATTERN);
  assert.match(second, ID_PATTERN);
  assert.notEqual(first, second);
  const jobs = await cliJson<Job[]>(["list"], { db: tmp.db });
  assert.deepEqual(jobs.map((j) => j.id).sort(), [first, second].sort());
});

storeTest(
  "enqueue --json prints the stored job with every field, null where unset",
  async (tmp) => {
    const before = Date.now();
    const job = await cliJson<Job>(["enqueue", '{"id":"j1","command":"echo hi"}'], { db: tmp.db });
    const after = Date.now();
    assert.deepEqual(Object.keys(job).sort(), JOB_FIELDS);
    assert.deepEqual(
      { ...job, created_at: "", updated_at: "", next_run_at: "" },
      {
        id: "j1",
        command: "echo hi",
        state: "pending",
        queue: "default",
        priority: 0,
        max_retries: null,
        timeout: null,
        env: null,
        cwd: null,
        attempts: 0,
        created_at: "",
        updated_at: "",
        next_run_at: "",
        last_error: null,
        worker_id: null,
        after: null,
        key: null,
        retry_on: null,
        group: null,
        backoff_base: null,
        backoff_max: null,
        expires_at: null,
        after_any: null,
        unique_for: null,
        on_finish: null,
        progress: null,
        progress_message: null,
        tags: null,
      },
    );
    for (const time of [job.created_at, job.updated_at, job.next_run_at!]) {
      assert.match(time, ISO_TIME);
      const ms = Date.parse(time);
      assert.ok(ms >= before - 5 && ms <= after + 5, `${time} is the time of the call`);
    }
    assert.equal(job.next_run_at, job.created_at, "a job without delay is due at once");
    assert.deepEqual(await cliJson<Job>(["show", "j1"], { db: tmp.db }), {
      ...job,
      runs: [],
      dependencies: [],
      dependents: [],
    });
  },
);

storeTest("enqueue stores every input field of a job", async (tmp) => {
  const input = {
    id: "full",
    command: "make report",
    max_retries: 0,
    priority: -2,
    run_at: "2030-06-01T08:00:00+02:00",
    timeout: 2.5,
    queue: "reports",
    env: { MODE: "fast", EMPTY: "" },
    cwd: "/srv/reports",
  };
  const job = await cliJson<Job>(["enqueue", JSON.stringify(input)], { db: tmp.db });
  assert.equal(job.max_retries, 0);
  assert.equal(job.priority, -2);
  assert.equal(job.next_run_at, "2030-06-01T06:00:00.000Z");
  assert.equal(job.timeout, 2.5);
  assert.equal(job.queue, "reports");
  assert.deepEqual(job.env, { MODE: "fast", EMPTY: "" });
  assert.equal(job.cwd, "/srv/reports");
  assert.deepEqual(await cliJson<Job>(["show", "full"], { db: tmp.db }), {
    ...job,
    runs: [],
    dependencies: [],
    dependents: [],
  });
});

storeTest("enqueue delays a job by a duration like 1h30m or by seconds", async (tmp) => {
  const a = await cliJson<Job>(["enqueue", '{"id":"a","command":"x","delay":"1h30m"}'], {
    db: tmp.db,
  });
  const b = await cliJson<Job>(["enqueue", '{"id":"b","command":"x","delay":1.5}'], {
    db: tmp.db,
  });
  const c = await cliJson<Job>(
    ["enqueue", '{"id":"c","command":"x","run_at":"2000-01-01T00:00:00Z"}'],
    { db: tmp.db },
  );
  const delay = (job: Job) => Date.parse(job.next_run_at!) - Date.parse(job.created_at);
  assert.equal(delay(a), 5_400_000);
  assert.equal(delay(b), 1500);
  assert.equal(delay(c), 0, "a run_at in the past means now");
});

/** Runs `enqueue --json <args>`; unlike cliJson() it keeps `--json` before `--`. */
async function enqueueJson(args: string[], db: string): Promise<Job> {
  return JSON.parse(assertOk(await runCli(["enqueue", "--json", ...args], { db }))) as Job;
}

storeTest("enqueue -- <cmd...> quotes each argument for the shell", async (tmp) => {
  const a = await enqueueJson(["--", "echo", "a b"], tmp.db);
  assert.equal(a.command, "echo 'a b'");
  const b = await enqueueJson(["--", "printf", "%s|", "it's", "$HOME", "*", "--json"], tmp.db);
  assert.equal(b.command, `printf '%s|' 'it'\\''s' '$HOME' '*' --json`);
  // The stored command runs exactly the words given.
  const output = await new Deno.Command("sh", { args: ["-c", b.command], stdout: "piped" })
    .output();
  assert.equal(new TextDecoder().decode(output.stdout), "it's|$HOME|*|--json|");
  // Global options after -- belong to the command too.
  const c = await enqueueJson(["--", "echo", "--db", "x", "--debug", "--no-color"], tmp.db);
  assert.equal(c.command, "echo --db x --debug --no-color");
});

storeTest("enqueue -- <cmd...> prints the id and takes every job option", async (tmp) => {
  const out = assertOk(
    await runCli(
      [
        "enqueue",
        "--id",
        "opt1",
        "--priority",
        "7",
        "--delay",
        "90s",
        "--timeout",
        "1.5",
        "--max-retries",
        "0",
        "--queue",
        "night",
        "--",
        "tar",
        "czf",
        "b.tgz",
        "My Documents",
      ],
      { db: tmp.db },
    ),
  );
  assert.equal(out, "opt1\n");
  const job = await cliJson<Job>(["show", "opt1"], { db: tmp.db });
  assert.equal(job.command, "tar czf b.tgz 'My Documents'");
  assert.equal(job.priority, 7);
  assert.equal(Date.parse(job.next_run_at!) - Date.parse(job.created_at), 90_000);
  assert.equal(job.timeout, 1.5);
  assert.equal(job.max_retries, 0);
  assert.equal(job.queue, "night");
  const at = await enqueueJson(["--run-at", "2031-01-02T03:04:05.678Z", "--", "true"], tmp.db);
  assert.equal(at.next_run_at, "2031-01-02T03:04:05.678Z");
});

storeTest("enqueue --file adds every line of an NDJSON file, skipping blank lines", async (tmp) => {
  const path = `${tmp.dir}/jobs.ndjson`;
  await Deno.writeTextFile(
    path,
    [
      '{"id":"b1","command":"echo one"}',
      "",
      '{"id":"b2","command":"echo two","priority":2}\r',
      "   ",
      '{"command":"echo three"}',
      "",
    ].join("\n"),
  );
  const out = assertOk(await runCli(["enqueue", "--file", path], { db: tmp.db }));
  assert.equal(out, "enqueued 3 jobs\n");
  const jobs = await cliJson<Job[]>(["list"], { db: tmp.db });
  assert.equal(jobs.length, 3);
  assert.deepEqual(jobs.map((j) => j.command).sort(), ["echo one", "echo three", "echo two"]);
  assert.equal(jobs.find((j) => j.id === "b2")?.priority, 2);
  const created = new Set(jobs.map((j) => j.created_at));
  assert.equal(created.size, 1, "a batch is one insert at one time");
});

storeTest("enqueue --file - reads the jobs from stdin", async (tmp) => {
  const stdin = '{"id":"s1","command":"echo 1"}\n{"id":"s2","command":"echo 2"}\n';
  const out = assertOk(await runCli(["enqueue", "--file", "-"], { db: tmp.db, stdin }));
  assert.equal(out, "enqueued 2 jobs\n");
  const jobs = await cliJson<Job[]>(["list"], { db: tmp.db });
  assert.deepEqual(jobs.map((j) => j.id), ["s2", "s1"]);
});

storeTest("enqueue --file of one job says so in the singular", async (tmp) => {
  const out = assertOk(
    await runCli(["enqueue", "--file", "-"], { db: tmp.db, stdin: '{"command":"true"}' }),
  );
  assert.equal(out, "enqueued 1 job\n");
});

storeTest("enqueue --file --json prints the array of jobs, even for a file of one", async (tmp) => {
  const many = await cliJson<Job[]>(["enqueue", "--file", "-"], {
    db: tmp.db,
    stdin: '{"id":"m1","command":"a"}\n{"id":"m2","command":"b"}\n',
  });
  assert.ok(Array.isArray(many));
  assert.deepEqual(many.map((j) => j.id), ["m1", "m2"]);
  for (const job of many) assert.deepEqual(Object.keys(job).sort(), JOB_FIELDS);
  const one = await cliJson<Job[]>(["enqueue", "--file", "-"], {
    db: tmp.db,
    stdin: '{"id":"o1","command":"a"}\n',
  });
  assert.ok(Array.isArray(one), "a batch prints an array whatever its size");
  assert.deepEqual(one.map((j) => j.id), ["o1"]);
});
