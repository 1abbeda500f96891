"""Transports behind one interface: the in-memory bus and Kafka."""

from shared.bus.base import Bus, BusMessage, Handler
from shared.bus.memory import MemoryBus
from shared.bus.topics import Topics

__all__ = ["Bus", "BusMessage", "Handler", "MemoryBus", "Topics"]
