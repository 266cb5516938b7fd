// The dlspec extension: starts `dlspec lsp` (the path in the setting dlspec.server.path) for .dls files.
// Highlighting (syntaxes/) and snippets (snippets/) need no server.
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from 'vscode-languageclient/node';

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const config = vscode.workspace.getConfiguration('dlspec');
  const command = config.get<string>('server.path', 'dlspec');
  const args = ['lsp', ...config.get<string[]>('server.extraArgs', [])];
  const serverOptions: ServerOptions = {
    run: { command, args, transport: TransportKind.stdio },
    debug: { command, args, transport: TransportKind.stdio },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file', language: 'dlspec' }, { scheme: 'untitled', language: 'dlspec' }],
  };
  client = new LanguageClient('dlspec', 'dlspec language server', serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.commands.registerCommand('dlspec.restartServer', async () => {
      await client?.restart();
    }),
  );
  try {
    await client.start();
  } catch (e) {
    void vscode.window.showErrorMessage(
      `dlspec: cannot start \`${command} lsp\` (${e}). Set dlspec.server.path to the dlspec executable.`);
  }
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
