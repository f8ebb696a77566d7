// Requests in flight, one per key: starting a new one for a key aborts the
// old, so a slow answer for a view the user has left never lands on the map.

export function createRequests(onChange = () => {}) {
  const active = new Map();

  function start(key) {
    active.get(key)?.abort();
    const controller = new AbortController();
    active.set(key, controller);
    onChange(active.size);
    return controller;
  }

  function isCurrent(key, controller) {
    return active.get(key) === controller;
  }

  function finish(key, controller) {
    if (!isCurrent(key, controller)) return;
    active.delete(key);
    onChange(active.size);
  }

  function cancel(key) {
    const controller = active.get(key);
    if (!controller) return;
    controller.abort();
    active.delete(key);
    onChange(active.size);
  }

  return { start, isCurrent, finish, cancel };
}
