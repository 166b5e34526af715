-- The triggers of 0017 again, each marking "the customers of a subscription" through one view
-- instead of its own copy of the three-way union (subscription rows, history rows, dunning cases).
-- UNION ALL in the view lets SQLite push each trigger's subscription id into every arm (three
-- index searches); the trigger's DISTINCT (or UNION) drops duplicates, so a customer is rederived once per
-- write, where 0017's separate insert of the written row's customer rederived it twice.
-- dunning_steps' triggers keep 0017's explicit union: their subscription id comes from a
-- subquery, which SQLite does not push into a view's arms (each step would scan all three).
create view subscription_customers as
  select id as subscription_id, customer_id from subscriptions
  union all select subscription_id, customer_id from subscription_history
  union all select subscription_id, customer_id from dunning_cases;
--> statement-breakpoint
drop trigger subscription_history_mrr_insert;
--> statement-breakpoint
create trigger subscription_history_mrr_insert after insert on subscription_history begin
  insert into customer_mrr_dirty (customer_id)
    select distinct customer_id from subscription_customers where subscription_id = new.subscription_id;
end;
--> statement-breakpoint
drop trigger subscription_history_mrr_delete;
--> statement-breakpoint
create trigger subscription_history_mrr_delete after delete on subscription_history begin
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscription_customers where subscription_id = old.subscription_id
    union select old.customer_id;
end;
--> statement-breakpoint
drop trigger subscription_history_mrr_update;
--> statement-breakpoint
create trigger subscription_history_mrr_update after update on subscription_history begin
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscription_customers where subscription_id in (old.subscription_id, new.subscription_id)
    union select old.customer_id;
end;
--> statement-breakpoint
drop trigger subscriptions_mrr_insert;
--> statement-breakpoint
create trigger subscriptions_mrr_insert after insert on subscriptions begin
  insert into customer_mrr_dirty (customer_id)
    select distinct customer_id from subscription_customers where subscription_id = new.id;
end;
--> statement-breakpoint
drop trigger subscriptions_mrr_update;
--> statement-breakpoint
create trigger subscriptions_mrr_update after update of status, trial_end, created_at, ended_at on subscriptions begin
  insert into customer_mrr_dirty (customer_id)
    select distinct customer_id from subscription_customers where subscription_id = new.id;
end;
--> statement-breakpoint
drop trigger subscriptions_mrr_delete;
--> statement-breakpoint
create trigger subscriptions_mrr_delete after delete on subscriptions begin
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscription_customers where subscription_id = old.id
    union select old.customer_id;
end;
--> statement-breakpoint
drop trigger dunning_cases_mrr_insert;
--> statement-breakpoint
create trigger dunning_cases_mrr_insert after insert on dunning_cases begin
  insert into customer_mrr_dirty (customer_id)
    select distinct customer_id from subscription_customers where subscription_id = new.subscription_id;
end;
--> statement-breakpoint
drop trigger dunning_cases_mrr_update;
--> statement-breakpoint
create trigger dunning_cases_mrr_update after update of status, closed_at, subscription_id, customer_id on dunning_cases begin
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscription_customers where subscription_id in (old.subscription_id, new.subscription_id)
    union select old.customer_id;
end;
--> statement-breakpoint
drop trigger dunning_cases_mrr_delete;
--> statement-breakpoint
create trigger dunning_cases_mrr_delete after delete on dunning_cases begin
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscription_customers where subscription_id = old.subscription_id
    union select old.customer_id;
end;
