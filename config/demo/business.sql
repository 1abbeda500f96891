-- Demo data of the company's systems, applied once when the tool-executor creates its
-- database. Dates are relative to creation so the demo stays inside the refund window.
INSERT INTO customers (customer_id, name, email) VALUES
  ('CUS-100', 'Ada Lovelace', 'ada@example.com'),
  ('CUS-101', 'Grace Hopper', 'grace@example.com');

-- Amounts in cents.
INSERT INTO invoices (invoice_id, customer_id, amount_cents, currency, status, charged_count, issued_at) VALUES
  ('INV-1001', 'CUS-100', 4999, 'USD', 'paid', 2, datetime('now', '-3 days')),   -- charged twice
  ('INV-1002', 'CUS-100', 1999, 'USD', 'paid', 1, datetime('now', '-10 days')),  -- charged once
  ('INV-1003', 'CUS-101', 2500, 'USD', 'paid', 2, datetime('now', '-200 days')), -- too old
  ('INV-1004', 'CUS-101', 89900, 'USD', 'paid', 2, datetime('now', '-5 days')),  -- above the limit
  ('INV-1005', 'CUS-101', 1500, 'USD', 'void', 2, datetime('now', '-2 days'));   -- voided

INSERT INTO orders (order_id, customer_id, status, carrier, tracking_number, estimated_delivery, updated_at) VALUES
  ('ORD-5001', 'CUS-100', 'shipped', 'UPS', '1Z999AA10123456784', date('now', '+2 days'), datetime('now', '-1 days')),
  ('ORD-5002', 'CUS-100', 'processing', NULL, NULL, date('now', '+5 days'), datetime('now', '-2 hours')),
  ('ORD-5003', 'CUS-101', 'delivered', 'DHL', 'JD014600006281230', NULL, datetime('now', '-6 days'));
