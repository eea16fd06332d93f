// The bench's load generator for round trips and connects, in C: one epoll loop that costs a
// server's core a third of what a Node client does, so that the client, not the server under
// test, never sets the pace (a Node client costs about what a raw Node server does, and capped
// the raw baselines first).
// Targets take turns as in the bench; each is `tcp:PORT` (nc), `telnet:PORT` (a terminal that
// answers negotiation: an 80x24 window, xterm-256color, the server's ECHO and SGA, no to the
// rest), `ws:PORT/PATH` (the browser page in text mode: a text message a line) or
// `wstelnet:PORT/PATH` (in telnet mode: binary messages, the line and CR LF, telnet inside) or,
// built with libssh2 (-DHAVE_LIBSSH2 -lssh2), `ssh:PORT` (OpenSSH's `ssh -tt`: no login, an
// xterm-256color terminal of 80x24, a shell, the line and Enter's CR), followed by `@PID` to have
// the CPU of the server process PID counted over the target's turns.
//
//   native-loadgen echo CLIENTS DEPTH SECONDS TURN_MS WARMUP_MS TARGET...
//   native-loadgen connect CONCURRENCY SECONDS TURN_MS WARMUP_MS TARGET...
//
// The targets first take turns of at most TURN_MS uncounted until each has had WARMUP_MS, then
// counted turns of TURN_MS until each has had SECONDS: a warm-up taken one target after the other
// left the first ones idle, and cold, while the others warmed.
// Prints one line per target: `TARGET RATE COUNT SECONDS P50_MS P99_MS SERVER_MS CLIENT_MS`:
// round trips or connects a second, how many in how long, the round trips' latency (0 for
// connects), and the CPU time the server (0 without a PID) and this process used in the target's
// turns. Loopback only.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_LIBSSH2
#include <libssh2.h>
#endif

#define BUFFER 65536
#define MAX_DEPTH 64
#define LINE 96
#define WELCOME_TIMEOUT_S 10.0

enum { IAC = 255, DONT = 254, DO = 253, WONT = 252, WILL = 251, SB = 250, SE = 240 };
enum { ECHO = 1, SGA = 3, TTYPE = 24, NAWS = 31 };
enum { TEXT, COMMAND, OPTION, SUBNEGOTIATION, SUBNEGOTIATION_IAC };

typedef struct {
  int port;
  /** The server process whose CPU is counted, or 0. */
  int pid;
  /** Whether telnet is spoken (telnet, wstelnet), whether it is in WebSocket messages (ws, wstelnet), or in SSH. */
  int isTelnet, isWebSocket, isSsh;
  const char *path;
  const char *name;
} target_t;

enum { WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10 };

typedef struct {
  int fd, index, sequence;
  const target_t *target;
  /** Telnet: where the decoder is, the verb or option being read, what is on. */
  int state, verb, localOn, remoteOn, subnegotiationLength;
  unsigned char subnegotiation[16];
  /** WebSocket: the server's answer to the upgrade is still being read (into text). */
  int isUpgrading;
#ifdef HAVE_LIBSSH2
  /** SSH: the session, its shell's channel once open, and how far the opening has come (see advanceSsh). */
  LIBSSH2_SESSION *session;
  LIBSSH2_CHANNEL *channel;
  int sshStep;
#endif
  /** Lines in flight, oldest first (a ring of MAX_DEPTH), and when each was sent. */
  int head, count;
  double sentAt[MAX_DEPTH];
  int expectedLength[MAX_DEPTH];
  char expected[MAX_DEPTH][LINE];
  /** Lengths of the two buffers below, which a new connection need not clear. */
  int frameLength, length;
  /** WebSocket: bytes of frames not complete yet. */
  unsigned char frame[BUFFER / 2];
  /** Text received and not matched yet. */
  char text[BUFFER];
} conn_t;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

/** Round-trip latencies of one target's counted turns, in ms. */
typedef struct {
  float *values;
  long length, capacity;
} latencies_t;

static void addLatency(latencies_t *list, double ms) {
  if (list->length == list->capacity) {
    list->capacity = list->capacity == 0 ? 65536 : list->capacity * 2;
    list->values = realloc(list->values, list->capacity * sizeof(float));
    if (list->values == NULL) {
      fprintf(stderr, "native-loadgen: out of memory for latencies\n");
      exit(1);
    }
  }
  list->values[list->length++] = (float)ms;
}

static int compareFloats(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/** The value at quantile `q` of the sorted list (as the bench's own generator takes it), or 0. */
static double quantile(const latencies_t *sorted, double q) {
  if (sorted->length == 0) return 0;
  double rank = q * sorted->length;
  long at = (long)rank;
  if (at < rank) at++;
  at--;
  return sorted->values[at < 0 ? 0 : at >= sorted->length ? sorted->length - 1 : at];
}

/** CPU time of process `pid` so far (user and system), in ms; 0 for no process. */
static double processCpuMs(int pid) {
  if (pid <= 0) return 0;
  char path[64], stat[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *file = fopen(path, "r");
  if (file == NULL) return 0;
  size_t length = fread(stat, 1, sizeof stat - 1, file);
  fclose(file);
  stat[length] = 0;
  // The command name (field 2) may hold spaces: the fields are counted after its closing ')'.
  const char *at = strrchr(stat, ')');
  unsigned long user = 0, system = 0;
  if (at == NULL || sscanf(at + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &user, &system) != 2) return 0;
  return (user + system) * 1000.0 / sysconf(_SC_CLK_TCK);
}

/** This process's CPU time so far, in ms. */
static double ownCpuMs(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1000.0 + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1000.0;
}

static void fail(const char *what, const target_t *target) {
  fprintf(stderr, "native-loadgen: %s (%s)\n", what, target->name);
  exit(1);
}

static void writeAll(conn_t *c, const void *bytes, int length) {
#ifdef HAVE_LIBSSH2
  if (c->target->isSsh) {
    // Lines are small and loopback's buffers large: a write the session cannot take at once is rare.
    for (int at = 0; at < length;) {
      ssize_t wrote = libssh2_channel_write(c->channel, (const char *)bytes + at, length - at);
      if (wrote == LIBSSH2_ERROR_EAGAIN) continue;
      if (wrote < 0) fail("write failed", c->target);
      at += (int)wrote;
    }
    return;
  }
#endif
  if (write(c->fd, bytes, length) != length) fail("write failed", c->target);
}

/** Appends a client's frame (FIN, masked, as RFC 6455 asks of clients) holding `payload` to `out`. */
static int frameInto(unsigned char *out, int opcode, const void *payload, int length) {
  static const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  int at = 0;
  out[at++] = 0x80 | opcode;
  if (length < 126) {
    out[at++] = 0x80 | length;
  } else {
    out[at++] = 0x80 | 126;
    out[at++] = length >> 8;
    out[at++] = length & 0xff;
  }
  memcpy(out + at, mask, 4);
  at += 4;
  for (int i = 0; i < length; i++) out[at + i] = ((const unsigned char *)payload)[i] ^ mask[i % 4];
  return at + length;
}

/** Sends bytes as the target's client does: as they are, or in one binary message. */
static void sendBytes(conn_t *c, const void *bytes, int length) {
  if (!c->target->isWebSocket) {
    writeAll(c, bytes, length);
    return;
  }
  unsigned char out[1024];
  writeAll(c, out, frameInto(out, WS_BINARY, bytes, length));
}

static int optionBit(int option) { return option == NAWS ? 1 : option == TTYPE ? 2 : option == SGA ? 4 : option == ECHO ? 8 : 0; }

/** A terminal's answer to DO, DONT, WILL or WONT (RFC 1143: nothing for what is in effect already). */
static void answer(conn_t *c, int verb, int option, unsigned char *out, int *length) {
  int bit = optionBit(option);
  int isLocalOption = option == NAWS || option == TTYPE || option == SGA;
  int isRemoteOption = option == ECHO || option == SGA;
  unsigned char reply[3] = {IAC, 0, (unsigned char)option};
  switch (verb) {
    case DO:
      if (isLocalOption && (c->localOn & bit)) return;
      reply[1] = isLocalOption ? WILL : WONT;
      if (isLocalOption) c->localOn |= bit;
      memcpy(out + *length, reply, 3);
      *length += 3;
      if (option == NAWS) {
        unsigned char size[] = {IAC, SB, NAWS, 0, 80, 0, 24, IAC, SE};
        memcpy(out + *length, size, sizeof size);
        *length += sizeof size;
      }
      return;
    case WILL:
      if (isRemoteOption && (c->remoteOn & bit)) return;
      reply[1] = isRemoteOption ? DO : DONT;
      if (isRemoteOption) c->remoteOn |= bit;
      break;
    case DONT:
    case WONT: {
      // Only an option that was on is acknowledged off.
      int *on = verb == DONT ? &c->localOn : &c->remoteOn;
      if (!(*on & bit)) return;
      *on &= ~bit;
      reply[1] = verb == DONT ? WONT : DONT;
      break;
    }
  }
  memcpy(out + *length, reply, 3);
  *length += 3;
}

/** Appends what `bytes` show on screen to c->text; on telnet, answers the commands among them. */
static void receiveText(conn_t *c, const unsigned char *bytes, int length) {
  if (c->length + length >= BUFFER) {
    // Nothing awaited is that far back: keep the tail, where an answer may be starting.
    memmove(c->text, c->text + c->length - LINE, LINE);
    c->length = LINE;
  }
  if (!c->target->isTelnet) {
    memcpy(c->text + c->length, bytes, length);
    c->length += length;
    return;
  }
  unsigned char replies[256];
  int replyLength = 0;
  for (int i = 0; i < length; i++) {
    unsigned char byte = bytes[i];
    switch (c->state) {
      case TEXT:
        if (byte == IAC) c->state = COMMAND;
        else c->text[c->length++] = (char)byte;
        break;
      case COMMAND:
        if (byte == IAC) {
          c->text[c->length++] = (char)byte;
          c->state = TEXT;
        } else if (byte == SB) {
          c->state = SUBNEGOTIATION;
          c->subnegotiationLength = 0;
        } else if (byte >= WILL) {
          c->verb = byte;
          c->state = OPTION;
        } else {
          c->state = TEXT;
        }
        break;
      case OPTION:
        if (replyLength < (int)sizeof replies - 16) answer(c, c->verb, byte, replies, &replyLength);
        c->state = TEXT;
        break;
      case SUBNEGOTIATION:
        if (byte == IAC) c->state = SUBNEGOTIATION_IAC;
        else if (c->subnegotiationLength < (int)sizeof c->subnegotiation) c->subnegotiation[c->subnegotiationLength++] = byte;
        break;
      case SUBNEGOTIATION_IAC:
        if (byte != SE) {
          c->state = SUBNEGOTIATION;
          break;
        }
        c->state = TEXT;
        // TTYPE SEND (RFC 1091): the terminal's name.
        if (c->subnegotiationLength == 2 && c->subnegotiation[0] == TTYPE && c->subnegotiation[1] == 1) {
          static const unsigned char type[] = {IAC, SB, TTYPE, 0, 'x', 't', 'e', 'r', 'm', '-', '2', '5', '6', 'c', 'o', 'l', 'o', 'r', IAC, SE};
          memcpy(replies + replyLength, type, sizeof type);
          replyLength += sizeof type;
        }
        break;
    }
  }
  if (replyLength > 0) sendBytes(c, replies, replyLength);
}

/** WebSocket: the payloads of the whole frames read so far go on as text; a ping is answered. */
static void receiveFrames(conn_t *c, const unsigned char *bytes, int length) {
  if (c->frameLength + length > (int)sizeof c->frame) fail("a message too large for this client", c->target);
  memcpy(c->frame + c->frameLength, bytes, length);
  c->frameLength += length;
  int at = 0;
  for (;;) {
    if (c->frameLength - at < 2) break;
    int opcode = c->frame[at] & 0x0f;
    long size = c->frame[at + 1] & 0x7f;
    int header = 2;
    if (size == 126) {
      if (c->frameLength - at < 4) break;
      size = (c->frame[at + 2] << 8) | c->frame[at + 3];
      header = 4;
    } else if (size == 127) {
      fail("a message too large for this client", c->target);
    }
    if (c->frameLength - at < header + size) break;
    const unsigned char *payload = c->frame + at + header;
    if (opcode == WS_TEXT || opcode == WS_BINARY || opcode == 0) receiveText(c, payload, (int)size);
    else if (opcode == WS_CLOSE) fail("the server closed the WebSocket", c->target);
    else if (opcode == WS_PING) {
      unsigned char out[256];
      writeAll(c, out, frameInto(out, WS_PONG, payload, (int)size));
    }
    at += header + (int)size;
  }
  memmove(c->frame, c->frame + at, c->frameLength - at);
  c->frameLength -= at;
}

/** WebSocket: the answer to the upgrade, up to its blank line; the frames after it go on. */
static void receiveUpgrade(conn_t *c, const unsigned char *bytes, int length) {
  if (c->length + length >= BUFFER) fail("no end to the answer to the WebSocket upgrade", c->target);
  memcpy(c->text + c->length, bytes, length);
  c->length += length;
  const char *end = memmem(c->text, c->length, "\r\n\r\n", 4);
  if (end == NULL) return;
  if (strncmp(c->text, "HTTP/1.1 101", 12) != 0) fail("the WebSocket upgrade was refused", c->target);
  // All that was read may follow the head: as large as the text it was gathered in.
  unsigned char rest[BUFFER];
  int restLength = c->length - (int)(end + 4 - c->text);
  memcpy(rest, end + 4, restLength);
  c->length = 0;
  c->isUpgrading = 0;
  receiveFrames(c, rest, restLength);
}

static void receive(conn_t *c, const unsigned char *bytes, int length) {
  if (c->isUpgrading) receiveUpgrade(c, bytes, length);
  else if (c->target->isWebSocket) receiveFrames(c, bytes, length);
  else receiveText(c, bytes, length);
}

#ifdef HAVE_LIBSSH2
/**
 * SSH: every byte of the shell's output the session holds, read until it has no more (the socket
 * may have brought only the protocol's own packets, or several of the channel's at once). Returns
 * what a read() would: bytes, -1 with errno EAGAIN for none yet, 0 at the end.
 */
static int readShell(conn_t *c) {
  unsigned char bytes[BUFFER / 2];
  int total = 0;
  for (;;) {
    ssize_t got = libssh2_channel_read(c->channel, (char *)bytes, sizeof bytes);
    if (got > 0) {
      receive(c, bytes, (int)got);
      total += (int)got;
      // Blocking (the opening of a round-trip client), a second read would wait for more.
      if (libssh2_session_get_blocking(c->session)) return total;
      continue;
    }
    if (total > 0) return total;
    // Nothing yet: the session waits for the socket, or read only the protocol's own packets.
    if (got == LIBSSH2_ERROR_EAGAIN || (got == 0 && !libssh2_channel_eof(c->channel))) {
      errno = EAGAIN;
      return -1;
    }
    return (int)got;
  }
}

enum { SSH_HANDSHAKE, SSH_LOGIN, SSH_CHANNEL, SSH_TERMINAL, SSH_SHELL, SSH_OPEN };

/**
 * Takes an SSH client's opening as far as it goes without waiting: the key exchange, the login
 * (none: the bench's servers let everyone in), the session's channel, its terminal and its shell.
 * Returns 1 once the shell is open, 0 while it waits for the server.
 */
static int advanceSsh(conn_t *c) {
  for (;;) {
    int result = 0;
    switch (c->sshStep) {
      case SSH_HANDSHAKE:
        result = libssh2_session_handshake(c->session, c->fd);
        break;
      case SSH_LOGIN:
        // Asking which methods there are tries "none" first; a server that takes it says nothing.
        if (libssh2_userauth_list(c->session, "bench", 5) == NULL && !libssh2_userauth_authenticated(c->session)) {
          result = libssh2_session_last_errno(c->session);
          if (result != LIBSSH2_ERROR_EAGAIN) fail("the server asks for a login", c->target);
        }
        break;
      case SSH_CHANNEL:
        c->channel = libssh2_channel_open_session(c->session);
        if (c->channel == NULL) result = libssh2_session_last_errno(c->session);
        break;
      case SSH_TERMINAL:
        result = libssh2_channel_request_pty_ex(c->channel, "xterm-256color", 14, NULL, 0, 80, 24, 0, 0);
        break;
      case SSH_SHELL:
        result = libssh2_channel_shell(c->channel);
        break;
      default:
        return 1;
    }
    if (result == LIBSSH2_ERROR_EAGAIN) return 0;
    if (result != 0) fail("the SSH opening failed", c->target);
    c->sshStep++;
  }
}

/** Ends an SSH client as one that drops its link does: nothing more is said to the server. */
static void closeSsh(conn_t *c) {
  libssh2_session_free(c->session);
  c->session = NULL;
  c->channel = NULL;
}
#endif

static int readInto(conn_t *c) {
#ifdef HAVE_LIBSSH2
  if (c->target->isSsh) {
    if (!advanceSsh(c)) {
      errno = EAGAIN;
      return -1;
    }
    return readShell(c);
  }
#endif
  unsigned char bytes[BUFFER / 2];
  int got = read(c->fd, bytes, sizeof bytes);
  if (got > 0) receive(c, bytes, got);
  return got;
}

static int isWelcomed(conn_t *c) {
  char *welcome = memmem(c->text, c->length, "Welcome", 7);
  return welcome != NULL && memchr(welcome, '\n', c->length - (welcome - c->text)) != NULL;
}

/**
 * Connects; a WebSocket client sends its upgrade at once (loopback has connected it within the
 * call) and reads the answer as it comes, before the frames.
 */
static void openConnection(conn_t *c, const target_t *target, int isNonBlocking) {
  memset(c, 0, offsetof(conn_t, frame));
  c->target = target;
  c->fd = socket(AF_INET, SOCK_STREAM | (isNonBlocking && !target->isWebSocket ? SOCK_NONBLOCK : 0), 0);
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(target->port)};
  inet_pton(AF_INET, "127.0.0.1", &address.sin_addr);
  if (connect(c->fd, (struct sockaddr *)&address, sizeof address) != 0 && errno != EINPROGRESS) fail("cannot connect", target);
#ifdef HAVE_LIBSSH2
  if (target->isSsh) {
    c->session = libssh2_session_init();
    if (c->session == NULL) fail("no SSH session", target);
    libssh2_session_set_blocking(c->session, !isNonBlocking);
    // Non-blocking, the key exchange's first step goes out now; blocking, the whole opening.
    advanceSsh(c);
    return;
  }
#endif
  if (!target->isWebSocket) return;
  char request[512];
  int length = snprintf(request, sizeof request,
                        "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                        target->path, target->port);
  writeAll(c, request, length);
  c->isUpgrading = 1;
  if (isNonBlocking) fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
}

/**
 * Sends `lines` lines in one write, as a client does when it answers a read (on WebSocket a
 * message a line, as the browser page sends); each is awaited in order.
 */
static void sendLines(conn_t *c, int lines) {
  unsigned char out[MAX_DEPTH * (LINE + 8)];
  int length = 0;
  double sentAt = now();
  for (int k = 0; k < lines; k++) {
    int slot = (c->head + c->count) % MAX_DEPTH;
    c->sentAt[slot] = sentAt;
    char line[LINE];
    int size = snprintf(line, LINE - 10, "%d %d the quick brown fox jumps over the lazy dog", c->index, c->sequence++);
    c->expectedLength[slot] = snprintf(c->expected[slot], LINE, "Echo: %s\r\n", line);
    c->count++;
    // A terminal's Enter sends CR alone (on telnet, CR LF: RFC 854).
    if (c->target->isSsh) size += sprintf(line + size, "\r");
    else if (!c->target->isWebSocket || c->target->isTelnet) size += sprintf(line + size, "\r\n");
    if (!c->target->isWebSocket) {
      memcpy(out + length, line, size);
      length += size;
    } else {
      length += frameInto(out + length, c->target->isTelnet ? WS_BINARY : WS_TEXT, line, size);
    }
  }
  writeAll(c, out, length);
}

/** Answers found in c->text, in order, their latencies added to `latencies` when given; what they covered is dropped. */
static int takeAnswers(conn_t *c, latencies_t *latencies) {
  int answered = 0;
  int from = 0;
  double at = latencies == NULL ? 0 : now();
  while (c->count > 0) {
    const char *hit = memmem(c->text + from, c->length - from, c->expected[c->head], c->expectedLength[c->head]);
    if (hit == NULL) break;
    from = (int)(hit - c->text) + c->expectedLength[c->head];
    if (latencies != NULL) addLatency(latencies, (at - c->sentAt[c->head]) * 1000);
    c->head = (c->head + 1) % MAX_DEPTH;
    c->count--;
    answered++;
  }
  if (from > 0) {
    memmove(c->text, c->text + from, c->length - from);
    c->length -= from;
  }
  return answered;
}

/** Whether a turn still starts new work at `end`; fails with `overdue` once what it began is long late. */
static int isStillLoading(int isLoading, double end, const target_t *target, const char *overdue) {
  double at = now();
  if (at > end + WELCOME_TIMEOUT_S) fail(overdue, target);
  return isLoading && at < end;
}

/**
 * Runs one turn on target `t` until `end`, then until nothing it began is pending; returns what
 * it counted, and adds round trips' latencies to `latencies` unless it is NULL (a warm-up).
 */
typedef long (*turn_fn)(void *load, int t, double end, latencies_t *latencies);

/**
 * Warms the targets up in turns (uncounted) until each has had `warmup` seconds, then gives them
 * turns of `turn` seconds, backwards every other round, until each has had `seconds`; prints
 * each target's line (see the top).
 */
static void takeTurns(double seconds, double turn, double warmup, int targets, const target_t *list, turn_fn runTurn,
                      void *load) {
  double *spent = calloc(targets, sizeof(double));
  double *serverMs = calloc(targets, sizeof(double));
  double *clientMs = calloc(targets, sizeof(double));
  long *counts = calloc(targets, sizeof(long));
  latencies_t *latencies = calloc(targets, sizeof(latencies_t));
  int rounds = (int)(seconds / turn + 0.5);
  int warmRounds = (int)(warmup / turn + 0.999);
  for (int round = -warmRounds; round < rounds; round++) {
    for (int k = 0; k < targets; k++) {
      int t = round % 2 == 0 ? k : targets - 1 - k;
      int isCounted = round >= 0;
      double warmLeft = warmup - (round + warmRounds) * turn;
      double length = isCounted || warmLeft > turn ? turn : warmLeft;
      double serverStart = isCounted ? processCpuMs(list[t].pid) : 0, clientStart = ownCpuMs();
      double start = now();
      long count = runTurn(load, t, start + length, isCounted ? &latencies[t] : NULL);
      if (!isCounted) continue;
      counts[t] += count;
      spent[t] += now() - start;
      serverMs[t] += processCpuMs(list[t].pid) - serverStart;
      clientMs[t] += ownCpuMs() - clientStart;
    }
  }
  for (int t = 0; t < targets; t++) {
    qsort(latencies[t].values, latencies[t].length, sizeof(float), compareFloats);
    printf("%s %.0f %ld %.6f %.3f %.3f %.0f %.0f\n", list[t].name, counts[t] / spent[t], counts[t], spent[t],
           quantile(&latencies[t], 0.5), quantile(&latencies[t], 0.99), serverMs[t], clientMs[t]);
  }
}

typedef struct {
  conn_t *conns;
  int clients, depth, poll;
  const target_t *list;
} echo_load_t;

static long echoTurn(void *state, int t, double end, latencies_t *latencies) {
  echo_load_t *load = state;
  struct epoll_event events[1024];
  long inFlight = 0, trips = 0;
  int isSending = 1;
  for (int i = 0; i < load->clients; i++) {
    sendLines(&load->conns[t * load->clients + i], load->depth);
    inFlight += load->depth;
  }
  while (inFlight > 0) {
    isSending = isStillLoading(isSending, end, &load->list[t], "answers stopped");
    int ready = epoll_wait(load->poll, events, 1024, 5);
    for (int e = 0; e < ready; e++) {
      conn_t *c = events[e].data.ptr;
      int got = readInto(c);
      if (got < 0 && errno == EAGAIN) continue;
      if (got <= 0) fail("connection lost", c->target);
      int answered = takeAnswers(c, latencies);
      inFlight -= answered;
      trips += answered;
      if (isSending && answered > 0) {
        sendLines(c, answered);
        inFlight += answered;
      }
    }
  }
  return trips;
}

static int echo(int clients, int depth, double seconds, double turn, double warmup, int targets, const target_t *list) {
  echo_load_t load = {calloc((size_t)clients * targets, sizeof(conn_t)), clients, depth, epoll_create1(0), list};
  for (int t = 0; t < targets; t++) {
    for (int i = 0; i < clients; i++) {
      conn_t *c = &load.conns[t * clients + i];
      openConnection(c, &list[t], 0);
      c->index = i;
      double deadline = now() + WELCOME_TIMEOUT_S;
      while (!isWelcomed(c)) {
        if (readInto(c) <= 0 || now() > deadline) fail("no welcome", c->target);
      }
      c->length = 0;
#ifdef HAVE_LIBSSH2
      // Read as the socket says there is something, as every other target is.
      if (c->session != NULL) libssh2_session_set_blocking(c->session, 0);
#endif
      struct epoll_event event = {.events = EPOLLIN, .data.ptr = c};
      epoll_ctl(load.poll, EPOLL_CTL_ADD, c->fd, &event);
    }
  }
  takeTurns(seconds, turn, warmup, targets, list, echoTurn, &load);
  return 0;
}

typedef struct {
  conn_t *slots;
  int concurrency, poll;
  const target_t *list;
} connect_load_t;

static void startConnecting(connect_load_t *load, conn_t *c, int t) {
  openConnection(c, &load->list[t], 1);
  struct epoll_event event = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(load->poll, EPOLL_CTL_ADD, c->fd, &event);
}

static long connectTurn(void *state, int t, double end, latencies_t *latencies) {
  (void)latencies;
  connect_load_t *load = state;
  struct epoll_event events[1024];
  long done = 0;
  int open = 0, isConnecting = 1;
  for (int i = 0; i < load->concurrency; i++, open++) startConnecting(load, &load->slots[i], t);
  while (open > 0) {
    isConnecting = isStillLoading(isConnecting, end, &load->list[t], "no welcome");
    int ready = epoll_wait(load->poll, events, 1024, 5);
    for (int e = 0; e < ready; e++) {
      conn_t *c = events[e].data.ptr;
      int got = readInto(c);
      if (got < 0 && errno == EAGAIN) continue;
      if (got <= 0) fail("closed before the welcome", c->target);
      if (!isWelcomed(c)) continue;
#ifdef HAVE_LIBSSH2
      if (c->session != NULL) closeSsh(c);
#endif
      close(c->fd);
      done++;
      if (isConnecting) startConnecting(load, c, t);
      else open--;
    }
  }
  return done;
}

static int connects(int concurrency, double seconds, double turn, double warmup, int targets, const target_t *list) {
  connect_load_t load = {calloc(concurrency, sizeof(conn_t)), concurrency, epoll_create1(0), list};
  takeTurns(seconds, turn, warmup, targets, list, connectTurn, &load);
  return 0;
}

static target_t *parseTargets(int count, char **names) {
  static const struct {
    const char *prefix;
    int isTelnet, isWebSocket, isSsh;
  } kinds[] = {{"tcp:", 0, 0, 0}, {"telnet:", 1, 0, 0}, {"ws:", 0, 1, 0}, {"wstelnet:", 1, 1, 0}, {"ssh:", 0, 0, 1}};
  const int kindCount = sizeof kinds / sizeof kinds[0];
  target_t *list = calloc(count, sizeof(target_t));
  for (int t = 0; t < count; t++) {
    const char *name = names[t];
    // `@PID` at the end names the server process; the name printed back is the whole argument.
    char *spec = strdup(name);
    char *pid = strrchr(spec, '@');
    if (pid != NULL) *pid++ = 0;
    int kind = 0;
    while (kind < kindCount && strncmp(spec, kinds[kind].prefix, strlen(kinds[kind].prefix)) != 0) kind++;
    const char *port = kind < kindCount ? spec + strlen(kinds[kind].prefix) : spec;
    const char *path = strchr(port, '/');
    if (kind == kindCount || atoi(port) <= 0 || (kinds[kind].isWebSocket && path == NULL) || (pid != NULL && atoi(pid) <= 0)) {
      fprintf(stderr,
              "native-loadgen: a target is tcp:PORT, telnet:PORT, ws:PORT/PATH, wstelnet:PORT/PATH or ssh:PORT, then"
              " @PID if given, not %s\n",
              name);
      exit(2);
    }
#ifndef HAVE_LIBSSH2
    if (kinds[kind].isSsh) {
      fprintf(stderr, "native-loadgen: built without libssh2, so no ssh targets (%s)\n", name);
      exit(2);
    }
#endif
    list[t] = (target_t){.port = atoi(port), .pid = pid == NULL ? 0 : atoi(pid), .isTelnet = kinds[kind].isTelnet,
                         .isWebSocket = kinds[kind].isWebSocket, .isSsh = kinds[kind].isSsh, .path = path, .name = name};
  }
  return list;
}

int main(int argc, char **argv) {
#ifdef HAVE_LIBSSH2
  if (libssh2_init(0) != 0) {
    fprintf(stderr, "native-loadgen: libssh2 did not start\n");
    return 1;
  }
#endif
  if (argc >= 8 && strcmp(argv[1], "echo") == 0) {
    int depth = atoi(argv[3]);
    if (depth < 1 || depth > MAX_DEPTH) {
      fprintf(stderr, "native-loadgen: DEPTH is 1 to %d\n", MAX_DEPTH);
      return 2;
    }
    return echo(atoi(argv[2]), depth, atof(argv[4]), atof(argv[5]) / 1000, atof(argv[6]) / 1000, argc - 7,
                parseTargets(argc - 7, argv + 7));
  }
  if (argc >= 7 && strcmp(argv[1], "connect") == 0)
    return connects(atoi(argv[2]), atof(argv[3]), atof(argv[4]) / 1000, atof(argv[5]) / 1000, argc - 6,
                    parseTargets(argc - 6, argv + 6));
  fprintf(stderr,
          "usage: native-loadgen echo CLIENTS DEPTH SECONDS TURN_MS WARMUP_MS TARGET...\n"
          "       native-loadgen connect CONCURRENCY SECONDS TURN_MS WARMUP_MS TARGET...\n"
          "TARGET: tcp:PORT, telnet:PORT, ws:PORT/PATH, wstelnet:PORT/PATH or ssh:PORT (with libssh2), then @PID (the\n"
          "server, for its CPU)\n");
  return 2;
}
