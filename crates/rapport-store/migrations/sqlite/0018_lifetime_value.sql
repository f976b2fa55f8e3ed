-- Each current customer's lifetime value (BG/NBD and Gamma-Gamma, from the daily refresh).
ALTER TABLE customer_predictions ADD COLUMN lifetime_value TEXT;
