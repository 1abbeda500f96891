"""Reading structured values out of free text shared by several services: money amounts.

>>> [(m.amount, m.currency) for m in find_money("refund $49.99, not 12,50 EUR")]
[(Decimal('49.99'), 'USD'), (Decimal('12.50'), 'EUR')]
"""

from shared.text.money import MoneyMention, find_money

__all__ = ["MoneyMention", "find_money"]
