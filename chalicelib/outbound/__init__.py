"""Mail to customers (R2.6): answers to e-mail requests and notifications of answers and
delay notices on official tickets; composed from data templates, sent from the outbox."""
