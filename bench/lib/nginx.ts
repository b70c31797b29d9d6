import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startProcess } from './processes.js';

/** nginx with `workers` worker processes serving `root` on `host`:`port`, tuned as one would for static files. */
function nginxConfig(dir: string, root: string, port: number, host: string, workers: number): string {
  return `worker_processes ${workers};
daemon off;
user root;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  open_file_cache max=20000 inactive=60s;
  client_body_temp_path ${dir}/nginx-body;
  proxy_temp_path ${dir}/nginx-proxy;
  fastcgi_temp_path ${dir}/nginx-fastcgi;
  uwsgi_temp_path ${dir}/nginx-uwsgi;
  scgi_temp_path ${dir}/nginx-scgi;
  types { text/html html; }
  server {
    listen ${host}:${port};
    root ${root};
    etag on;
    # What a load balancer's health check asks for, as zonelab serve answers it.
    location = /healthz { return 200 '{"status":"serving"}'; }
  }
}
`;
}

/** Starts that nginx in the foreground with its own files in `dir`; the caller stops it. */
export async function startNginx(dir: string, root: string, port: number, host = '127.0.0.1', workers = 1): Promise<ReturnType<typeof startProcess>> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'nginx.conf'), nginxConfig(dir, root, port, host, workers));
  await mkdir(join(dir, 'nginx-body'), { recursive: true });
  return startProcess('nginx', ['-c', join(dir, 'nginx.conf'), '-e', join(dir, 'nginx-error.log')]);
}
