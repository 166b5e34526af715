-- The report's current figures and its revenue by month, kept by triggers as 0017 keeps the MRR
-- timeline, so a report reads a row per customer and a row per month (the benchmark's goal).
--
-- customer_current: the view customer_current_rows, rederived for a customer whenever
-- customer_mrr_dirty marks them (every write to their subscriptions, history rows and dunning
-- cases), beside 0017's timeline rederivation (SQLite pushes the customer into the grouped view).
-- The rules are the report's: MRR counts while active or past due and not suspended (a dunning
-- case in status suspended); the standing ranks statuses best first with suspended between past
-- due and trialing.
create view customer_current_rows as
  select customer_id, currency, coalesce(tier, 'other') as tier,
    sum(case when suspended then 0 when status in ('active', 'past_due') then mrr else 0 end) as mrr,
    min(case when suspended then 2 else case status when 'active' then 0 when 'past_due' then 1 when 'trialing' then 3 when 'paused' then 4 when 'unpaid' then 5 when 'incomplete' then 6 when 'canceled' then 7 when 'incomplete_expired' then 8 else 9 end end) as standing
  from (select sx.customer_id as customer_id, sx.currency as currency, sx.tier as tier, sx.status as status, sx.mrr as mrr,
      exists (select 1 from dunning_cases d where d.subscription_id = sx.id and d.status = 'suspended') as suspended
    from subscriptions sx)
  group by customer_id, currency, coalesce(tier, 'other');
--> statement-breakpoint
create trigger customer_current_rederive after insert on customer_mrr_dirty begin
  delete from customer_current where customer_id = new.customer_id;
  insert into customer_current (customer_id, currency, tier, mrr, standing)
    select customer_id, currency, tier, mrr, standing from customer_current_rows where customer_id = new.customer_id;
end;
--> statement-breakpoint
-- The current figures also read a subscription's tier, MRR and currency: mark on those too, and
-- mark the old customer as well as the new.
drop trigger subscriptions_mrr_update;
--> statement-breakpoint
create trigger subscriptions_mrr_update after update of status, trial_end, created_at, ended_at, tier, mrr, currency, customer_id on subscriptions begin
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscription_customers where subscription_id = new.id
    union select old.customer_id;
end;
--> statement-breakpoint
insert into customer_current (customer_id, currency, tier, mrr, standing)
  select customer_id, currency, tier, mrr, standing from customer_current_rows;
--> statement-breakpoint
-- invoice_revenue_months: each paid invoice's total less tax in the month of its paid date, added
-- when it becomes paid and taken away when it stops being (or moves month, or changes amount).
-- Deltas are exact in integers; a D1 export restores the table's rows before these triggers exist.
create trigger invoices_revenue_insert after insert on invoices when new.status = 'paid' and new.paid_at is not null begin
  insert into invoice_revenue_months (currency, month, revenue, invoices) values (new.currency, (cast(strftime('%Y', new.paid_at / 1000, 'unixepoch') as integer) * 12 + cast(strftime('%m', new.paid_at / 1000, 'unixepoch') as integer) - 1), new.total - new.tax, 1)
    on conflict (currency, month) do update set revenue = revenue + excluded.revenue, invoices = invoices + 1;
end;
--> statement-breakpoint
create trigger invoices_revenue_delete after delete on invoices when old.status = 'paid' and old.paid_at is not null begin
  update invoice_revenue_months set revenue = revenue - (old.total - old.tax), invoices = invoices - 1
    where currency = old.currency and month = (cast(strftime('%Y', old.paid_at / 1000, 'unixepoch') as integer) * 12 + cast(strftime('%m', old.paid_at / 1000, 'unixepoch') as integer) - 1);
  delete from invoice_revenue_months where currency = old.currency and month = (cast(strftime('%Y', old.paid_at / 1000, 'unixepoch') as integer) * 12 + cast(strftime('%m', old.paid_at / 1000, 'unixepoch') as integer) - 1) and invoices = 0;
end;
--> statement-breakpoint
create trigger invoices_revenue_update after update of status, paid_at, total, tax, currency on invoices
  when (old.status = 'paid' and old.paid_at is not null) or (new.status = 'paid' and new.paid_at is not null) begin
  update invoice_revenue_months set revenue = revenue - (old.total - old.tax), invoices = invoices - 1
    where old.status = 'paid' and old.paid_at is not null and currency = old.currency and month = (cast(strftime('%Y', old.paid_at / 1000, 'unixepoch') as integer) * 12 + cast(strftime('%m', old.paid_at / 1000, 'unixepoch') as integer) - 1);
  delete from invoice_revenue_months where currency = old.currency and month = (cast(strftime('%Y', old.paid_at / 1000, 'unixepoch') as integer) * 12 + cast(strftime('%m', old.paid_at / 1000, 'unixepoch') as integer) - 1) and invoices = 0;
  insert into invoice_revenue_months (currency, month, revenue, invoices)
    select new.currency, (cast(strftime('%Y', new.paid_at / 1000, 'unixepoch') as integer) * 12 + cast(strftime('%m', new.paid_at / 1000, 'unixepoch') as integer) - 1), new.total - new.tax, 1 where new.status = 'paid' and new.paid_at is not null
    on conflict (currency, month) do update set revenue = revenue + excluded.revenue, invoices = invoices + 1;
end;
--> statement-breakpoint
insert into invoice_revenue_months (currency, month, revenue, invoices)
  select currency, (cast(strftime('%Y', paid_at / 1000, 'unixepoch') as integer) * 12 + cast(strftime('%m', paid_at / 1000, 'unixepoch') as integer) - 1), sum(total - tax), count(*) from invoices where status = 'paid' and paid_at is not null
  group by currency, (cast(strftime('%Y', paid_at / 1000, 'unixepoch') as integer) * 12 + cast(strftime('%m', paid_at / 1000, 'unixepoch') as integer) - 1);
