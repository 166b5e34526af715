-- Every existing customer's MRR timeline, derived once by the triggers of 0017 (rederiving is
-- idempotent: a customer's rows are replaced, never added to).
insert into customer_mrr_dirty (customer_id)
  select customer_id from subscription_history union select customer_id from dunning_cases;
