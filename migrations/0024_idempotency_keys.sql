CREATE TABLE `idempotency_keys` (
	`api_key_id` text NOT NULL,
	`key` text NOT NULL,
	`method` text NOT NULL,
	`path` text NOT NULL,
	`request_hash` text NOT NULL,
	`state` text NOT NULL,
	`claim_token` text NOT NULL,
	`created_at` integer NOT NULL,
	`claimed_at` integer NOT NULL,
	`response_status` integer,
	`response_content_type` text,
	`response_body` text,
	PRIMARY KEY(`api_key_id`, `key`)
);
--> statement-breakpoint
CREATE INDEX `idempotency_keys_created_idx` ON `idempotency_keys` (`created_at`);