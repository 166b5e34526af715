-- Analytics' MRR timeline (customer_mrr_months) kept by triggers: any write to an input of a
-- customer's MRR (their history rows, subscription rows, dunning cases and suspension steps)
-- marks the customer, and marking rederives all of the customer's months in the same statement,
-- so the table can never disagree with its inputs. The rules are the report's (README, Analytics):
-- history rows in write order, each effective no earlier than the rows before it, the first from
-- the paid start (trial end, else creation), nothing from Stripe's ended_at, suspensions as minus
-- the MRR then until the case closes. Existing customers are derived in 0019, once the
-- customer-first index (0018) makes each rederivation a lookup.
create trigger customer_mrr_rederive after insert on customer_mrr_dirty begin
  delete from customer_mrr_months where customer_id = new.customer_id;
  insert into customer_mrr_months (currency, customer_id, month, d, closing, paid_change_before)
  select currency, new.customer_id, month, d, closing,
    max(case when closing - d > 0 then month end) over (partition by currency order by month rows between unbounded preceding and 1 preceding)
  from (
    select currency, month, d, sum(d) over (partition by currency order by month rows unbounded preceding) as closing
    from (
      select currency, (cast(strftime('%Y', at / 1000, 'unixepoch') as integer) * 12 + cast(strftime('%m', at / 1000, 'unixepoch') as integer) - 1) as month, sum(delta) as d from (select x.currency as currency, case when k.e then x.ended_at else x.at end as at, case when k.e then -x.m else x.m - x.prev_m end as delta
      from (select h.currency as currency,
          case when row_number() over w = 1 then coalesce(s.trial_end, s.created_at)
            else max(max(h.at) over r, coalesce(s.trial_end, s.created_at)) end as at,
          s.ended_at as ended_at,
          (case when (case when h.status in ('canceled', 'trialing') then 'active' else h.status end) in ('active', 'past_due') then h.mrr else 0 end) as m,
          max(h.at) over r as seen,
          lead(h.at) over w as next_at,
          lag((case when (case when h.status in ('canceled', 'trialing') then 'active' else h.status end) in ('active', 'past_due') then h.mrr else 0 end), 1, 0) over w as prev_m
        from subscription_history h join subscriptions s on s.id = h.subscription_id
        where h.customer_id = new.customer_id and s.status not in ('trialing', 'incomplete', 'incomplete_expired')
        window w as (partition by h.subscription_id, h.currency order by h.id), r as (w rows unbounded preceding)) x join (select 0 as e union all select 1) k
      where x.at < coalesce(x.ended_at, 9e15) and (not k.e or (x.ended_at is not null and max(x.seen, coalesce(x.next_at, x.ended_at)) >= x.ended_at))
      union all
      select c.currency, s.at, s.sign * coalesce((select (case when h.status in ('active', 'past_due') then h.mrr else 0 end) from subscription_history h
          where h.subscription_id = s.subscription_id and h.currency = c.currency and h.at <= s.from_at order by h.at desc, h.id desc limit 1), 0)
      from (select subscription_id, from_at, from_at as at, -1 as sign from (select d.subscription_id as subscription_id, st.at as from_at, case when d.status = 'suspended' then null else d.closed_at end as to_at
          from dunning_steps st join dunning_cases d on d.id = st.case_id
          where st.step = 'suspended' and st.outcome = 'done'
            and d.subscription_id in (select subscription_id from dunning_cases where customer_id = new.customer_id)) union all select subscription_id, from_at, to_at, 1 from (select d.subscription_id as subscription_id, st.at as from_at, case when d.status = 'suspended' then null else d.closed_at end as to_at
          from dunning_steps st join dunning_cases d on d.id = st.case_id
          where st.step = 'suspended' and st.outcome = 'done'
            and d.subscription_id in (select subscription_id from dunning_cases where customer_id = new.customer_id)) where to_at is not null) s
        join (select distinct subscription_id, currency from subscription_history where subscription_id in (select subscription_id from dunning_cases where customer_id = new.customer_id)) c on c.subscription_id = s.subscription_id
      group by s.subscription_id, c.currency, s.from_at, s.sign)
      group by currency, month having sum(delta) <> 0));
  delete from customer_mrr_dirty where customer_id = new.customer_id;
end;
--> statement-breakpoint
create trigger subscription_history_mrr_insert after insert on subscription_history begin
  insert into customer_mrr_dirty (customer_id) values (new.customer_id);
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscriptions where id = new.subscription_id
    union select customer_id from subscription_history where subscription_id = new.subscription_id
    union select customer_id from dunning_cases where subscription_id = new.subscription_id;
end;
--> statement-breakpoint
create trigger subscription_history_mrr_delete after delete on subscription_history begin
  insert into customer_mrr_dirty (customer_id) values (old.customer_id);
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscriptions where id = old.subscription_id
    union select customer_id from subscription_history where subscription_id = old.subscription_id
    union select customer_id from dunning_cases where subscription_id = old.subscription_id;
end;
--> statement-breakpoint
create trigger subscription_history_mrr_update after update on subscription_history begin
  insert into customer_mrr_dirty (customer_id) values (old.customer_id);
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscriptions where id = new.subscription_id
    union select customer_id from subscription_history where subscription_id = new.subscription_id
    union select customer_id from dunning_cases where subscription_id = new.subscription_id;
end;
--> statement-breakpoint
create trigger subscriptions_mrr_insert after insert on subscriptions begin
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscriptions where id = new.id
    union select customer_id from subscription_history where subscription_id = new.id
    union select customer_id from dunning_cases where subscription_id = new.id;
end;
--> statement-breakpoint
create trigger subscriptions_mrr_update after update of status, trial_end, created_at, ended_at on subscriptions begin
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscriptions where id = new.id
    union select customer_id from subscription_history where subscription_id = new.id
    union select customer_id from dunning_cases where subscription_id = new.id;
end;
--> statement-breakpoint
create trigger subscriptions_mrr_delete after delete on subscriptions begin
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscriptions where id = old.id
    union select customer_id from subscription_history where subscription_id = old.id
    union select customer_id from dunning_cases where subscription_id = old.id;
end;
--> statement-breakpoint
create trigger dunning_cases_mrr_insert after insert on dunning_cases begin
  insert into customer_mrr_dirty (customer_id) values (new.customer_id);
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscriptions where id = new.subscription_id
    union select customer_id from subscription_history where subscription_id = new.subscription_id
    union select customer_id from dunning_cases where subscription_id = new.subscription_id;
end;
--> statement-breakpoint
create trigger dunning_cases_mrr_update after update of status, closed_at, subscription_id, customer_id on dunning_cases begin
  insert into customer_mrr_dirty (customer_id) values (old.customer_id);
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscriptions where id = old.subscription_id
    union select customer_id from subscription_history where subscription_id = old.subscription_id
    union select customer_id from dunning_cases where subscription_id = old.subscription_id;
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscriptions where id = new.subscription_id
    union select customer_id from subscription_history where subscription_id = new.subscription_id
    union select customer_id from dunning_cases where subscription_id = new.subscription_id;
end;
--> statement-breakpoint
create trigger dunning_cases_mrr_delete after delete on dunning_cases begin
  insert into customer_mrr_dirty (customer_id) values (old.customer_id);
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscriptions where id = old.subscription_id
    union select customer_id from subscription_history where subscription_id = old.subscription_id
    union select customer_id from dunning_cases where subscription_id = old.subscription_id;
end;
--> statement-breakpoint
create trigger dunning_steps_mrr_insert after insert on dunning_steps begin
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscriptions where id = (select subscription_id from dunning_cases where id = new.case_id)
    union select customer_id from subscription_history where subscription_id = (select subscription_id from dunning_cases where id = new.case_id)
    union select customer_id from dunning_cases where subscription_id = (select subscription_id from dunning_cases where id = new.case_id);
end;
--> statement-breakpoint
create trigger dunning_steps_mrr_delete after delete on dunning_steps begin
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscriptions where id = (select subscription_id from dunning_cases where id = old.case_id)
    union select customer_id from subscription_history where subscription_id = (select subscription_id from dunning_cases where id = old.case_id)
    union select customer_id from dunning_cases where subscription_id = (select subscription_id from dunning_cases where id = old.case_id);
end;
--> statement-breakpoint
create trigger dunning_steps_mrr_update after update on dunning_steps begin
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscriptions where id = (select subscription_id from dunning_cases where id = old.case_id)
    union select customer_id from subscription_history where subscription_id = (select subscription_id from dunning_cases where id = old.case_id)
    union select customer_id from dunning_cases where subscription_id = (select subscription_id from dunning_cases where id = old.case_id);
  insert into customer_mrr_dirty (customer_id)
    select customer_id from subscriptions where id = (select subscription_id from dunning_cases where id = new.case_id)
    union select customer_id from subscription_history where subscription_id = (select subscription_id from dunning_cases where id = new.case_id)
    union select customer_id from dunning_cases where subscription_id = (select subscription_id from dunning_cases where id = new.case_id);
end;
