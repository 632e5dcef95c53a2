"""The ``.racv`` container: a header, one packet per frame, an optional index trailer.

Layout and rules: ``docs/container.md``. The same packet framing is used on sockets by the
streaming code (:func:`unpack_packet` on a receive buffer returns None until a packet is complete).
"""
from .format import (END_MAGIC, HEADER_HAS_INDEX, INDEX_MAGIC, MAGIC, MAX_HEADER, MAX_PACKET,
                     MINOR_VERSION, PACKET_OVERHEAD, SYNC, VERSION, ContainerError, CorruptPacketError,
                     EndOfPackets, Header, Packet, packet_size, unpack_packet)
from .reader import NotSeekableError, Reader, read_packet
from .sequence import MAX_FRAME_GAP, FramePlan
from .writer import Writer

__all__ = ["MAGIC", "VERSION", "MINOR_VERSION", "SYNC", "INDEX_MAGIC", "END_MAGIC", "HEADER_HAS_INDEX",
           "MAX_HEADER", "MAX_PACKET", "PACKET_OVERHEAD", "ContainerError", "CorruptPacketError",
           "EndOfPackets", "NotSeekableError", "Header", "Packet", "packet_size", "unpack_packet", "read_packet", "Reader",
           "Writer", "FramePlan", "MAX_FRAME_GAP"]
