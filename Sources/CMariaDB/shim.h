#include <mariadb/mysql.h>
#include <openssl/crypto.h>

// mysql_optionsv is variadic: Swift calls these instead.
static inline int tandem_mysql_option_uint(MYSQL *mysql, enum mysql_option option, unsigned int value) {
    return mysql_optionsv(mysql, option, &value);
}
static inline int tandem_mysql_option_string(MYSQL *mysql, enum mysql_option option, const char *value) {
    return mysql_optionsv(mysql, option, value);
}

// OpenSSL would read its configuration file on every run of a short-lived agent: not needed
// for a client that only ever uses the library's defaults. Called before the first connection.
static inline void tandem_mysql_prepare(void) {
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
}
