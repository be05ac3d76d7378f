#!/bin/sh
# Render the ACL file from the environment, then run redis-server with our config.
set -eu
: "${REDIS_PASSWORD:?set REDIS_PASSWORD}"
: "${REDIS_READONLY_PASSWORD:?set REDIS_READONLY_PASSWORD}"
mkdir -p /run/redis
umask 077
sed -e "s|\${REDIS_PASSWORD}|${REDIS_PASSWORD}|" -e "s|\${REDIS_READONLY_PASSWORD}|${REDIS_READONLY_PASSWORD}|" \
  /etc/redis/users.acl.template > /run/redis/users.acl
chown -R redis:redis /run/redis 2>/dev/null || true
exec redis-server /etc/redis/redis.conf --appendfsync "${REDIS_APPENDFSYNC:-everysec}"
