"""What a new password must not be: whitespace only, one character repeated, the email or its name, or one
of the passwords every guessing list tries first. Length (8..128) is the schema's (`schemas.Password`).

Checked where a password is set (registration, `exchange user create`), never at login: an account made
before a rule existed still logs in.
"""

from __future__ import annotations

# the most common passwords of 8+ characters in public breach lists, lower-cased; a guesser's first tries
COMMON = frozenset(
    """
    password password1 password12 password123 passw0rd p@ssw0rd p@ssword 12345678 123456789 1234567890
    0123456789 987654321 87654321 11111111 00000000 88888888 12341234 11223344 12121212 123123123
    qwertyui qwerty12 qwerty123 qwertyuiop 1q2w3e4r 1q2w3e4r5t 1qaz2wsx zaq12wsx asdfghjk asdf1234
    abcd1234 abc12345 abcdefgh iloveyou iloveyou1 sunshine princess football baseball superman
    starwars whatever welcome1 welcome123 letmein1 trustno1 admin123 administrator changeme
    computer internet michelle jennifer dragon123 monkey123 master123 shadow123 qazwsxedc
    """.split()  # noqa: SIM905 (a word list reads better as text)
)


def password_problem(password: str, email: str = "") -> str | None:
    """Why `password` may not be set (a sentence for the user), or None when it may."""
    if not password.strip():
        return "the password must not be only spaces"
    if len(set(password)) == 1:
        return "the password must not be one character repeated"
    folded = password.strip().lower()
    email = email.strip().lower()
    if email and folded in (email, email.split("@", 1)[0]):
        return "the password must not be the email address or its name"
    if folded in COMMON:
        return "this password is one of the first that guessers try: choose another"
    return None
