import { describe, expect, it } from "vitest";
import { instant, instantOfSeconds, InstantInput, msOf, secondsOf } from "../../worker/src/instant";
import { instantViolations, isInstantName, openApiInstantViolations } from "./instants";

const dateTime = { type: "string", format: "date-time" };

describe("the instant rule", () => {
  it("names instants by their field names, and leaves Stripe's boolean flag and durations alone", () => {
    for (const name of ["at", "created_at", "cancel_at", "grace_until", "trial_end", "current_period_start", "period_end", "proration_date", "due_date", "as_of", "created", "timestamp", "date"])
      expect(isInstantName(name), name).toBe(true);
    for (const name of ["cancel_at_period_end", "latency_ms", "trial_days", "oldest_pending_age_s", "before", "from", "to", "month", "status"]) expect(isInstantName(name), name).toBe(false);
  });

  it("fails on a made-up schema whose instants are Unix seconds, untyped strings or unknown, wherever they sit", () => {
    const doc = {
      paths: {
        "/v1/things": {
          get: {
            parameters: [{ name: "changed_at", in: "query", schema: { type: "integer" } }],
            responses: {
              200: {
                content: {
                  "application/json": {
                    schema: {
                      type: "object",
                      properties: {
                        data: { type: "array", items: { $ref: "#/components/schemas/Thing" } },
                        as_of: { type: "string" },
                        grace_until: { anyOf: [{ type: "integer" }, { type: "null" }] },
                        ok_at: { type: ["string", "null"], format: "date-time" },
                        cancel_at_period_end: { type: "boolean" },
                      },
                    },
                  },
                },
              },
            },
          },
          post: { requestBody: { content: { "application/json": { schema: { type: "object", properties: { resume_at: { type: "integer" } } } } } }, responses: {} },
        },
      },
      components: {
        schemas: {
          Thing: {
            type: "object",
            properties: {
              trial_end: { type: ["integer", "null"] },
              created: {},
              nested: { type: "object", additionalProperties: { type: "object", properties: { effective_at: { type: "number" } } } },
            },
          },
        },
      },
    };
    expect(openApiInstantViolations(doc).map((v) => v.where)).toEqual([
      "get /v1/things query.changed_at",
      "get /v1/things 200(application/json).data[].trial_end",
      "get /v1/things 200(application/json).data[].created",
      "get /v1/things 200(application/json).data[].nested{}.effective_at",
      "get /v1/things 200(application/json).as_of",
      "get /v1/things 200(application/json).grace_until",
      "post /v1/things body(application/json).resume_at",
    ]);
  });

  it("passes date-time strings, nullable or optional, through refs and unions, as zod writes them", () => {
    const schema = {
      type: "object",
      properties: {
        a_at: dateTime,
        b_at: { anyOf: [dateTime, { type: "null" }] },
        c_end: { type: ["string", "null"], format: "date-time" },
        d: { $ref: "#/$defs/D" },
        u: {
          oneOf: [
            { type: "object", properties: { cancel_at: dateTime } },
            { type: "object", properties: { offer: { type: "object" } } },
          ],
        },
      },
      $defs: { D: { type: "object", properties: { as_of: dateTime } } },
    };
    expect(instantViolations(schema, "made-up")).toEqual([]);
  });
});

describe("the wire format of an instant", () => {
  it("is RFC 3339 in UTC with milliseconds, the same width for every instant", () => {
    expect(instant(Date.UTC(2026, 11, 7, 2, 37, 5))).toBe("2026-12-07T02:37:05.000Z");
    expect(instant(Date.UTC(2026, 11, 7, 2, 37, 5, 42))).toBe("2026-12-07T02:37:05.042Z");
    expect(instantOfSeconds(1796611025)).toBe("2026-12-07T02:37:05.000Z");
    expect(instantOfSeconds(null)).toBeNull();
  });

  it("takes RFC 3339 with any offset as input, and nothing else", () => {
    expect(InstantInput.safeParse("2026-12-06T21:37:05-05:00").success).toBe(true);
    expect(InstantInput.safeParse("2026-12-07T02:37:05Z").success).toBe(true);
    for (const bad of ["1796611025", "2026-12-07", "2026-12-07 02:37:05", "yesterday"]) expect(InstantInput.safeParse(bad).success, bad).toBe(false);
    expect(msOf("2026-12-06T21:37:05.250-05:00")).toBe(Date.UTC(2026, 11, 7, 2, 37, 5, 250));
    expect(secondsOf("2026-12-07T02:37:05.999Z")).toBe(1796611025);
  });
});
