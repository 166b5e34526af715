CREATE TABLE `cron_runs` (
	`cron` text PRIMARY KEY NOT NULL,
	`last_started_at` integer,
	`last_finished_at` integer,
	`last_ok` integer,
	`last_error` text
);
--> statement-breakpoint
CREATE TABLE `monitoring_alerts` (
	`key` text PRIMARY KEY NOT NULL,
	`condition` text NOT NULL,
	`subject` text NOT NULL,
	`window_start` integer NOT NULL,
	`level` integer NOT NULL,
	`payload` text NOT NULL,
	`status` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer,
	`lease_until` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`sent_at` integer
);
--> statement-breakpoint
CREATE INDEX `monitoring_alerts_due_idx` ON `monitoring_alerts` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `monitoring_alerts_window_idx` ON `monitoring_alerts` (`condition`,`subject`,`window_start`,`level`);--> statement-breakpoint
CREATE INDEX `payment_attempts_outcome_at_idx` ON `payment_attempts` (`outcome`,`at`);