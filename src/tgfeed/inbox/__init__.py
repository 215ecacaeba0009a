"""The mailbox side of the list: reading bounces (RFC 3464 delivery status
notifications) and ``mailto:`` unsubscribe requests from a Maildir or an IMAP
folder. ``parse`` is pure; ``maildir`` and ``imap`` are the edges."""
