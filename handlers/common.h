/*
 * SQL fragments shared by the handlers.  PostgreSQL renders the JSON of
 * every answer, so a handler passes text through without re-encoding.
 */

#ifndef HANDLERS_COMMON_H
#define HANDLERS_COMMON_H

/* RFC 3339 UTC with milliseconds, as the settings handler writes them. */
#define TS(x)								\
	"to_char((" x ") AT TIME ZONE 'UTC',"				\
	" 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/*
 * A page of a list as one row (total, rows on the page, JSON array), for
 * kb_respond_page().  `json` is the expression of one item over the
 * FROM/WHERE/ORDER BY in `from_order`; `lim` and `off` are the parameter
 * numbers of limit and offset ("$6").  The order of `from_order` is kept.
 */
#define PAGE(count_sql, json, from_order, lim, off)			\
	"SELECT (" count_sql "), count(*),"				\
	" coalesce(json_agg(j ORDER BY ord), '[]')::text FROM ("	\
	"SELECT row_number() OVER () AS ord, j FROM (SELECT " json	\
	" AS j " from_order " LIMIT " lim " OFFSET " off ") s) page"

#endif /* !HANDLERS_COMMON_H */
