<?php
declare(strict_types=1);

// A one-file guestbook: shows the entries and appends new ones to a JSON file.
const STORE = __DIR__ . '/guestbook.json';

function load_entries(): array
{
    if (!is_file(STORE)) {
        return [];
    }
    $data = json_decode((string) file_get_contents(STORE), true);
    return is_array($data) ? $data : [];
}

if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    $name = trim($_POST['name'] ?? '');
    $message = trim($_POST['message'] ?? '');
    if ($name !== '' && $message !== '') {
        $entries = load_entries();
        $entries[] = ['name' => $name, 'message' => $message, 'time' => date('c')];
        file_put_contents(STORE, json_encode($entries, JSON_PRETTY_PRINT), LOCK_EX);
    }
    header('Location: ' . $_SERVER['PHP_SELF']);
    exit;
}
?>
<!DOCTYPE html>
<html>
<body>
<?php foreach (array_reverse(load_entries()) as $entry): ?>
  <p><strong><?= htmlspecialchars($entry['name']) ?></strong>:
     <?= htmlspecialchars($entry['message']) ?></p>
<?php endforeach; ?>
<form method="post">
  <input name="name" placeholder="name"> <input name="message" placeholder="message">
  <button>Sign</button>
</form>
</body>
</html>
