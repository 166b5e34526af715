DROP INDEX `customer_mrr_months_customer_idx`;--> statement-breakpoint
CREATE INDEX `customer_mrr_months_customer_idx` ON `customer_mrr_months` (`customer_id`,`currency`,`month`,`closing`);