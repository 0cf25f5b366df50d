/**
 * What a docker step's `append-cert: true` does to its image, on every executor (wharf-cmd's
 * semantics): the worker's certificate is put into the build context as `root.crt` and the
 * Dockerfile gets these instructions appended, so the final stage copies it and appends it to
 * its CA bundle. That stage needs `sh`, `mkdir`, `touch`, `cat` and a user that may write
 * /etc/ssl/certs.
 */
export const APPENDED_CERT_NAME = "root.crt";

export const APPENDED_CERT_INSTRUCTIONS: readonly string[] = [
  `COPY ./${APPENDED_CERT_NAME} /usr/local/share/ca-certificates/${APPENDED_CERT_NAME}`,
  "RUN mkdir -p /etc/ssl/certs/ && touch /etc/ssl/certs/ca-certificates.crt" +
    ` && cat /usr/local/share/ca-certificates/${APPENDED_CERT_NAME} >> /etc/ssl/certs/ca-certificates.crt`,
];
