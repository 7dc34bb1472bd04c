"""Economics stage: order value, fleet sizing, total cost of ownership, substitution."""

from suanli.economics.order import ConsistencyCheck, Order, OrderSummary, Span, summarize_order

__all__ = [
    "ConsistencyCheck",
    "Order",
    "OrderSummary",
    "Span",
    "summarize_order",
]
