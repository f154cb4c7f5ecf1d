#!/usr/bin/python3
"""A real SMTP server on 127.0.0.1 for the integration tests (aiosmtpd).

Every accepted message is written to DIR as one file, <n>.eml, whole
(headers and body as received), written under a temporary name and
renamed so a reader never sees half a message.  The envelope recipients
come first, as "X-Rcpt-To:" lines.

While DIR/.fail exists, every message is refused with a temporary
failure (451), so the tests can watch the server retry.

    smtp_sink.py PORT DIR
"""

import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.dir = directory
        self.n = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        if os.path.exists(os.path.join(self.dir, ".fail")):
            return "451 4.3.0 sink told to fail; try again later"
        with self.lock:
            self.n += 1
            n = self.n
        head = "".join("X-Rcpt-To: %s\r\n" % r for r in envelope.rcpt_tos)
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode()
        tmp = os.path.join(self.dir, ".%06d.tmp" % n)
        with open(tmp, "wb") as f:
            f.write(head.encode() + data)
        os.rename(tmp, os.path.join(self.dir, "%06d.eml" % n))
        return "250 2.0.0 OK"


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    ctl = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    ctl.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: done.set())
    signal.signal(signal.SIGINT, lambda *a: done.set())
    print("smtp_sink: listening on 127.0.0.1:%d, mail to %s" % (port, directory),
          flush=True)
    done.wait()
    ctl.stop()


if __name__ == "__main__":
    main()
