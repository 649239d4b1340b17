#!/usr/bin/env python3
"""Diagnostic TCP proxy: hides one librdkafka request-encoding quirk from a broker.

librdkafka (2.x, at least up to 2.12) asks for *all topics* with Metadata v9+
by reserving a 4-byte array count and leaving it unfinalized: the body starts
00 00 00 00 where a compact array needs one byte (00 = null = all topics).
Apache Kafka reads 00 as the null array, reads the next three 00 bytes as
allow_auto_topic_creation=false, include_topic_authorized_operations=false
(v9-10: include_cluster_authorized_operations=false too) and an empty tag
buffer, and ignores the bytes that are left over. This proxy drops those
3 surplus bytes at the end of such a request, which is what Kafka's parser
effectively does, so a broker that refuses trailing bytes can be tested past
that point. Everything else is forwarded unchanged, in both directions.

    metadata-proxy.py LISTEN_PORT TARGET_HOST:TARGET_PORT

The broker must advertise the proxy's address (advertised.listeners), or
clients would reconnect to the broker directly. Binds 127.0.0.1 only.
"""
import asyncio
import struct
import sys

fixed = 0


def fix_metadata(frame: bytes) -> bytes:
    """frame = request without the 4-byte length prefix."""
    global fixed
    if len(frame) < 10:
        return frame
    api_key, version = struct.unpack(">hh", frame[:4])
    if api_key != 3 or version < 9:
        return frame
    # Request header v2: api_key, api_version, correlation_id, client_id (nullable
    # int16 string), tagged fields (uvarint count; librdkafka writes 0).
    (cid_len,) = struct.unpack(">h", frame[8:10])
    pos = 10 + max(cid_len, 0)
    if pos >= len(frame) or frame[pos] != 0:  # header tags
        return frame
    pos += 1
    body = frame[pos:]
    # topics(1) + [v9-10: allow_auto, incl_cluster_ops, incl_topic_ops | v11+: allow_auto, incl_topic_ops] + tags(1)
    expected = 1 + (3 if version <= 10 else 2) + 1
    if len(body) == expected + 3 and body[:4] == b"\x00\x00\x00\x00":
        fixed += 1
        return frame[: pos + expected]
    return frame


async def pump(reader, writer, transform):
    try:
        while True:
            head = await reader.readexactly(4)
            (n,) = struct.unpack(">i", head)
            frame = await reader.readexactly(n) if n > 0 else b""
            if transform:
                frame = transform(frame)
            writer.write(struct.pack(">i", len(frame)) + frame)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    listen_port = int(sys.argv[1])
    host, port = sys.argv[2].rsplit(":", 1)

    async def handle(creader, cwriter):
        try:
            breader, bwriter = await asyncio.open_connection(host, int(port))
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(
            pump(creader, bwriter, fix_metadata),
            pump(breader, cwriter, None),
        )

    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
