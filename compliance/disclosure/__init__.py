"""Disclosure: secure links for officers, the record of every disclosure (for the
client's accounting), and later EAP delivery and notices."""
