// Secrets out of what is printed: a URL's password (redis://user:SECRET@host, mysql://...)
// becomes "***" in banners, log lines and error messages, even when the URL does not parse.

/** `text` with the password of its URL (user:password@) replaced by "***". */
export function redactUrl(text: string): string {
  return text.replace(
    /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i,
    (_, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(":");
      return colon < 0 ? `${scheme}${userinfo}@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
    },
  );
}
