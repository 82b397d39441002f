#include <mariadb/mysql.h>

// mysql_optionsv is variadic: Swift calls these instead.
static inline int tandem_mysql_option_uint(MYSQL *mysql, enum mysql_option option, unsigned int value) {
    return mysql_optionsv(mysql, option, &value);
}
static inline int tandem_mysql_option_string(MYSQL *mysql, enum mysql_option option, const char *value) {
    return mysql_optionsv(mysql, option, value);
}
