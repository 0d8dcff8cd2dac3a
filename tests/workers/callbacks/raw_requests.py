"""Reading a whole HTTP request off a raw socket, for the hand-written hostile receivers."""

import socket


def read_request(connection: socket.socket) -> bytes:
    """Read the whole request (head and body) and return its head; stops early if the client
    hangs up. A receiver that closed with bytes unread would reset the connection, and the
    client would see the reset instead of the answer under test."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = connection.recv(65536)
        if not chunk:
            return received
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        (
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        ),
        0,
    )
    while len(body) < length:
        chunk = connection.recv(65536)
        if not chunk:
            break
        body += chunk
    return head
