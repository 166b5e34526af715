CREATE TABLE `entitlement_changes` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`user_id` text NOT NULL,
	`changed_at` integer NOT NULL,
	`status` text NOT NULL,
	`tier` text
);
