"""Statuses of orders and generations (DESIGN.md §2)."""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    """pending → processing → underway → fulfilled | cancelled | failed."""

    PENDING = "pending"
    PROCESSING = "processing"
    UNDERWAY = "underway"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def done(self) -> bool:
        """True for the final statuses."""
        return self in (OrderStatus.FULFILLED, OrderStatus.CANCELLED, OrderStatus.FAILED)


class GenerationStatus(StrEnum):
    """pending → generating → complete | failed | cancelled."""

    PENDING = "pending"
    GENERATING = "generating"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def done(self) -> bool:
        """True for the final statuses."""
        return self in (GenerationStatus.COMPLETE, GenerationStatus.FAILED, GenerationStatus.CANCELLED)


def order_outcome(complete: int, failed: int, cancelled: int, *, cancelled_by_user: bool = False) -> OrderStatus:
    """Final status of an order from the counts of its finished generations.

    An order the user cancelled is ``cancelled`` even where some generations completed;
    otherwise one complete generation makes it ``fulfilled`` (failures are counted, not fatal).
    """
    if cancelled_by_user:
        return OrderStatus.CANCELLED
    if complete:
        return OrderStatus.FULFILLED
    if failed:
        return OrderStatus.FAILED
    if cancelled:
        return OrderStatus.CANCELLED
    return OrderStatus.FULFILLED
