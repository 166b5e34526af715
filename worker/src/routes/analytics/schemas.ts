import { z } from "@hono/zod-openapi";
import { Currency, Month } from "../../fields";
import { named } from "../../http/schemas";
import { ReportRow, RevenueReport } from "../../presenters";

export const MonthParam = Month.describe("A calendar month (UTC), YYYY-MM");
export const CurrencyParam = Currency.default("usd").describe("ISO 4217; only amounts in it are summed");

/** The report with its OpenAPI names; the shape is the presenter's, which the tool shares. */
export const Report = named(RevenueReport.extend({ rows: z.array(named(ReportRow, "AnalyticsReportRow")) }), "AnalyticsReport");
